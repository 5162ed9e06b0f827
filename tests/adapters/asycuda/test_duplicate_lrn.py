"""The ASYCUDA simulator keeps an LRN unique per declarant (real process, over HTTP and the hot folder), and the
adapter turns its refusal into a convention issue pointing to the submitter's FunctionalReferenceID."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from adapters.asycuda import AsycudaAdapter
from adapters.asycuda.hotfolder import file_name
from adapters.asycuda.mapping import AsycudaMapping
from adapters.asycuda.simulator.service import function_code_of
from gateway.samples import make_declaration
from gateway.sdk import Declaration, idempotency_key
from gateway.sdk.simclient import SimulatorFailed
from tests.adapters.asycuda.conftest import MEMBER, SimulatorControl, SimulatorProcess

DECLARANT = "FJ7654321"


def _declaration(lrn: str, seed: int, *, declarant: str = DECLARANT, function_code: str = "9") -> Declaration:
    payload = make_declaration(member=MEMBER, lrn=lrn, seed=seed, declarant=declarant, function_code=function_code)
    return Declaration(payload=payload, member=MEMBER, participant="p", lrn=lrn, function_code=function_code,
                       tracking_id=f"trk-{lrn}-{seed}",
                       idempotency_key=idempotency_key("p", lrn, function_code, payload))


async def _post(client: httpx.AsyncClient, mapping: AsycudaMapping, declaration: Declaration) -> httpx.Response:
    return await client.post("/asycuda/declarations", content=mapping(declaration.payload).document,
                             headers={"Idempotency-Key": declaration.idempotency_key})


def _codes(response: httpx.Response) -> list[tuple[str | None, str | None]]:
    root = etree.fromstring(response.content)
    assert root.tag == "ASYCUDA_ERRORS"
    return [(e.findtext("Code"), e.findtext("Field")) for e in root.iterfind("Error")]


@pytest.fixture
async def client(simulator: SimulatorProcess, control: SimulatorControl) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the module's simulator (reset after the test by ``control``)."""
    async with httpx.AsyncClient(base_url=simulator.url, timeout=10) as http:
        yield http


class TestFunctionCode:
    @pytest.mark.parametrize("code", ["9", "13"])
    def test_read_from_the_key_and_the_hot_folder_name(self, code: str) -> None:
        """The function code is read from the gateway's key, and from the file name the hot folder derives."""
        key = idempotency_key("broker", "LRN/1:x", code, b"<d/>")
        assert function_code_of(key) == code and function_code_of(file_name(key)) == code

    def test_an_original_without_a_key_form(self) -> None:
        """A key of another form (or none) is an original's."""
        assert function_code_of("hf-42") == function_code_of(None) == "9"


class TestDuplicateReference:
    async def test_one_hundred_variants_of_one_lrn(self, client: httpx.AsyncClient, mapping: AsycudaMapping) -> None:
        """Of 100 originals of one LRN by one declarant with other content, the first is registered and 99 are
        refused ASY-DEC-REF-EXISTS on the reference field; another declarant's same LRN is registered, an
        amendment of the registered one is accepted, a redelivery of the first replays."""
        lrn = f"DUP-{time.time_ns()}"
        variants = [_declaration(lrn, seed) for seed in range(1, 101)]
        first = await _post(client, mapping, variants[0])
        assert first.status_code == 200
        for variant in variants[1:]:
            refused = await _post(client, mapping, variant)
            assert refused.status_code == 422
            assert _codes(refused) == [("ASY-DEC-REF-EXISTS", "ASYCUDA/Declarant/Reference/Number")]
        counts = [(await client.get("/control/registrations", params={"key": v.idempotency_key})).json()["count"]
                  for v in variants]
        assert counts == [1] + [0] * 99
        assert (await _post(client, mapping, _declaration(lrn, 2, declarant="FJ1111111"))).status_code == 200
        assert (await _post(client, mapping, _declaration(lrn, 3, function_code="13"))).status_code == 200
        again = await _post(client, mapping, variants[0])
        assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (200, "true")
        assert again.content == first.content
        totals = (await client.get("/control/registrations")).json()
        assert totals["counters"]["refused:duplicate-reference"] >= 99

    async def test_the_adapter_reports_it_on_functional_reference_id(self, simulator: SimulatorProcess,
                                                                     control: SimulatorControl) -> None:
        """Through the adapter: NationalAnswer(accepted=False), code FJ-ASYCUDA-ASY-DEC-REF-EXISTS, pointer to the
        LRN in the submitter's document; a redelivery of the registered one is a duplicate."""
        lrn = f"DUPA-{time.time_ns()}"
        adapter = AsycudaAdapter(MEMBER, {"url": simulator.url, "timeout": 10})
        try:
            registered = await adapter.deliver(_declaration(lrn, 1))
            refused = await adapter.deliver(_declaration(lrn, 2))
            replayed = await adapter.deliver(_declaration(lrn, 1))
        finally:
            await adapter.aclose()
        assert registered.accepted and not registered.duplicate
        assert not refused.accepted
        (issue,) = refused.issues
        assert (issue.code, issue.path) == ("FJ-ASYCUDA-ASY-DEC-REF-EXISTS",
                                            "/MetaData/Declaration/FunctionalReferenceID")
        assert lrn in issue.message and DECLARANT in issue.message
        assert replayed.accepted and replayed.duplicate


class TestStateFile:
    def test_an_old_json_state_file_stops_the_simulator_naming_it(self, tmp_path: Path) -> None:
        """--state with a JSON state file of earlier versions: the command fails and names the file."""
        state = tmp_path / "state.json"
        state.write_text('{"counters": {}, "records": {}}')
        process = SimulatorProcess(tmp_path / "sim.log", "--state", str(state))
        with pytest.raises(SimulatorFailed, match=f"{state} is not a simulator registration book"):
            process.start()

    def test_duplicate_rule_survives_a_restart(self, tmp_path: Path, mapping: AsycudaMapping) -> None:
        """A restarted simulator on the same SQLite file still refuses a reused LRN and replays the first."""
        state, lrn = tmp_path / "asycuda.sqlite", f"DUPR-{time.time_ns()}"
        first, second = _declaration(lrn, 1), _declaration(lrn, 2)
        statuses = []
        for declaration in (first, second, first):
            process = SimulatorProcess(tmp_path / "sim.log", "--state", str(state)).start()
            try:
                response = httpx.post(f"{process.url}/asycuda/declarations",
                                      content=mapping(declaration.payload).document,
                                      headers={"Idempotency-Key": declaration.idempotency_key})
                statuses.append((response.status_code, response.headers.get("Idempotent-Replayed")))
            finally:
                process.stop()
        assert statuses == [(200, None), (422, None), (200, "true")]
