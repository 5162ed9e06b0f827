"""The WCO simulator keeps an LRN unique per declarant (real process), and the wco-xml adapter turns its refusal
into a convention issue pointing to FunctionalReferenceID."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from adapters.wco_xml import WcoXmlAdapter
from gateway.responses import read_response
from gateway.samples import make_declaration
from gateway.sdk import Declaration, idempotency_key
from gateway.sdk.simclient import SimulatorControl, SimulatorProcess
from tests.adapters.wco_xml.conftest import MEMBER

DECLARANT = "NZ7654321"


def _declaration(lrn: str, seed: int, *, declarant: str = DECLARANT, function_code: str = "9") -> Declaration:
    payload = make_declaration(member=MEMBER, lrn=lrn, seed=seed, declarant=declarant, function_code=function_code)
    return Declaration(payload=payload, member=MEMBER, participant="p", lrn=lrn, function_code=function_code,
                       tracking_id=f"trk-{lrn}-{seed}",
                       idempotency_key=idempotency_key("p", lrn, function_code, payload))


async def _post(client: httpx.AsyncClient, declaration: Declaration) -> httpx.Response:
    return await client.post("/declarations", content=declaration.payload,
                             headers={"Content-Type": "application/xml", "Idempotency-Key": declaration.idempotency_key,
                                      "X-OCO-Tracking-Id": declaration.tracking_id})


@pytest.fixture
async def client(wco_simulator: str, wco_control: SimulatorControl) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the simulator (reset to normal by ``wco_control``)."""
    async with httpx.AsyncClient(base_url=wco_simulator, timeout=10) as http:
        yield http


class TestDuplicateLrn:
    async def test_one_hundred_variants_of_one_lrn(self, client: httpx.AsyncClient,
                                                   wco_control: SimulatorControl) -> None:
        """Of 100 originals of one LRN by one declarant with other content, the first is registered and 99 are
        refused TSW-DUPLICATE-LRN pointing to FunctionalReferenceID; another declarant's same LRN is registered,
        an amendment of the registered one is accepted, a redelivery of the first replays."""
        lrn = f"DUP-{time.time_ns()}"
        variants = [_declaration(lrn, seed) for seed in range(1, 101)]
        first = await _post(client, variants[0])
        assert first.status_code == 201
        for variant in variants[1:]:
            refused = await _post(client, variant)
            assert refused.status_code == 422
            issues = read_response(refused.content).issues
            assert [(i.code, i.path) for i in issues] == [
                ("TSW-DUPLICATE-LRN", "/md:MetaData/dec:Declaration/dec:FunctionalReferenceID")]
        assert [await wco_control.registrations(v.idempotency_key) for v in variants] == [1] + [0] * 99
        assert (await _post(client, _declaration(lrn, 2, declarant="NZ1111111"))).status_code == 201
        assert (await _post(client, _declaration(lrn, 3, function_code="13"))).status_code == 201
        again = await _post(client, variants[0])
        assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (200, "true")
        assert again.content == first.content

    async def test_the_adapter_reports_it_on_functional_reference_id(self, wco_simulator: str,
                                                                     wco_control: SimulatorControl) -> None:
        """Through the adapter: NationalAnswer(accepted=False), code NZ-WCO-TSW-DUPLICATE-LRN, pointer
        /MetaData/Declaration/FunctionalReferenceID; a redelivery of the registered one is a duplicate."""
        lrn = f"DUPA-{time.time_ns()}"
        adapter = WcoXmlAdapter(MEMBER, {"url": wco_simulator, "timeout": 10})
        try:
            registered = await adapter.deliver(_declaration(lrn, 1))
            refused = await adapter.deliver(_declaration(lrn, 2))
            replayed = await adapter.deliver(_declaration(lrn, 1))
        finally:
            await adapter.aclose()
        assert registered.accepted and not registered.duplicate
        assert not refused.accepted
        (issue,) = refused.issues
        assert (issue.code, issue.path) == ("NZ-WCO-TSW-DUPLICATE-LRN",
                                            "/MetaData/Declaration/FunctionalReferenceID")
        assert lrn in issue.message and DECLARANT in issue.message
        assert replayed.accepted and replayed.duplicate


class TestStateFile:
    def test_registrations_and_the_rule_survive_a_restart(self, tmp_path: Path) -> None:
        """A restarted simulator on the same SQLite file replays the first, refuses a reused LRN, numbers on."""
        state, lrn = tmp_path / "wco.sqlite", f"DUPR-{time.time_ns()}"
        first, second, other = _declaration(lrn, 1), _declaration(lrn, 2), _declaration(f"{lrn}-B", 3)
        seen = []
        for declaration in (first, second, first, other):
            with SimulatorProcess("wco", "--member", MEMBER, "--state", str(state),
                                  log_path=tmp_path / "wco.log") as process:
                response = httpx.post(f"{process.url}/declarations", content=declaration.payload,
                                      headers={"Idempotency-Key": declaration.idempotency_key})
                seen.append((response.status_code, read_response(response.content).declaration_id))
        assert [status for status, _ in seen] == [201, 422, 200, 201]
        assert seen[2][1] == seen[0][1] and int(seen[3][1][-9:]) == int(seen[0][1][-9:]) + 1

    def test_an_old_json_state_file_stops_the_simulator_naming_it(self, tmp_path: Path) -> None:
        """--state with a JSON file: the command fails and names the file."""
        state = tmp_path / "state.json"
        state.write_text('{"answers": {}}')
        result = subprocess.run([sys.executable, "-m", "gateway", "simulate", "wco", "--member", MEMBER, "--port", "1",
                                 "--state", str(state)], capture_output=True, text=True, timeout=120)
        assert result.returncode != 0
        assert f"{state} is not a simulator registration book" in result.stderr
