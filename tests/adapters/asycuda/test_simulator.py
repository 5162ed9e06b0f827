"""Tests for the ASYCUDA World simulator, run as a real separate process (``python -m gateway simulate``)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx
import pytest
import yaml
from lxml import etree

from adapters.asycuda.simulator.rates import DEFAULT_RATES
from tests.adapters.asycuda.conftest import SimulatorControl, SimulatorProcess

Document = Callable[..., bytes]
CENT = Decimal("0.01")


def expected_taxes(item: etree._Element, rates: dict, member: str = "FJ") -> dict[str, Decimal]:
    """The taxes of one item, computed from the rate table as its comments say (independently of the code)."""
    hs = item.findtext("Tarification/HScode/Commodity_code")
    preference = (item.findtext("Tarification/Preference_code") or "").strip()
    duty_table = rates["customs_duty"]
    duty = rates["preferences"].get(preference, duty_table["headings"].get(
        hs[:4], duty_table["chapters"].get(hs[:2], duty_table["default"])))
    base = Decimal(item.findtext("Valuation_item/Total_CIF_itm"))
    taxes = {"CUD": (base * Decimal(str(duty)) / 100).quantize(CENT, ROUND_HALF_UP)}
    if hs[:4] in rates["excise"]:
        taxes["EXC"] = (base * Decimal(str(rates["excise"][hs[:4]])) / 100).quantize(CENT, ROUND_HALF_UP)
    vat = Decimal(str(rates["members"][member]["vat"]))
    taxes["VAT"] = ((base + sum(taxes.values())) * vat / 100).quantize(CENT, ROUND_HALF_UP)
    return taxes


def lines(item: etree._Element) -> dict[str, Decimal]:
    """The taxation lines of an assessed item, code to amount."""
    return {line.findtext("Duty_tax_code"): Decimal(line.findtext("Duty_tax_amount"))
            for line in item.iterfind("Taxation/Taxation_line")}


@pytest.fixture
async def client(simulator: SimulatorProcess, control: SimulatorControl) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the module's simulator; the simulator is reset after the test."""
    async with httpx.AsyncClient(base_url=simulator.url, timeout=10) as http:
        yield http


async def submit(client: httpx.AsyncClient, document: bytes, key: str | None = None) -> httpx.Response:
    """POST a declaration, with an idempotency key when given."""
    headers = {"Idempotency-Key": key} if key else {}
    return await client.post("/asycuda/declarations", content=document, headers=headers)


def errors(response: httpx.Response) -> list[tuple[str, str | None]]:
    """(code, field) of each error in an ASYCUDA_ERRORS answer."""
    root = etree.fromstring(response.content)
    assert root.tag == "ASYCUDA_ERRORS"
    return [(e.findtext("Code"), e.findtext("Field")) for e in root.iterfind("Error")]


class TestSimulatorRegistration:
    async def test_health(self, client: httpx.AsyncClient) -> None:
        """/health answers 200 with the member simulated."""
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "member": "FJ"}

    async def test_registers_with_sequential_numbers(self, client: httpx.AsyncClient,
                                                     asycuda_document: Document) -> None:
        """Each accepted declaration gets serial C, the next number of the year and today's date as M/D/YY."""
        first = etree.fromstring((await submit(client, asycuda_document(seed=1), "reg-1")).content)
        second = etree.fromstring((await submit(client, asycuda_document(seed=2), "reg-2")).content)
        today = date.today()
        for answer in (first, second):
            assert answer.findtext("Identification/Registration/Serial_number") == "C"
            assert answer.findtext("Identification/Registration/Date") == f"{today.month}/{today.day}/{today:%y}"
            assert answer.findtext("Identification/Assessment/Serial_number") == "A"
            assert answer.findtext("Assessment_notice/Registration_year") == str(today.year)
        numbers = [int(a.findtext("Identification/Registration/Number")) for a in (first, second)]
        assert numbers[1] == numbers[0] + 1
        assert first.findtext("Identification/Office_segment/Customs_Clearance_office_name")

    async def test_assessment_follows_the_rate_table(self, client: httpx.AsyncClient, asycuda_document: Document,
                                                     asycuda_paths: frozenset[str]) -> None:
        """Duty, excise and VAT of every item, the fee and the totals are the rate table's figures, written
        in elements real ASYCUDA files have."""
        rates = yaml.safe_load(DEFAULT_RATES.read_text())
        response = await submit(client, asycuda_document(items=8, seed=21), "assess-1")
        assert response.status_code == 200
        answer = etree.fromstring(response.content)
        items_total = Decimal(0)
        for item in answer.iterfind("Item"):
            expected = expected_taxes(item, rates)
            assert lines(item) == expected
            assert Decimal(item.findtext("Taxation/Item_taxes_amount")) == sum(expected.values())
            items_total += sum(expected.values())
        fee = Decimal(str(rates["members"]["FJ"]["fee"])).quantize(CENT)
        assert Decimal(answer.findtext("Assessment_notice/Total_item_taxes")) == items_total
        assert answer.findtext("Global_taxes/Global_tax_item") == f"CAF {fee}"
        assert Decimal(answer.findtext("Financial/Amounts/Totals_taxes")) == items_total + fee
        written = {"/".join(e.tag for e in [*reversed(list(el.iterancestors())), el]) for el in answer.iter()}
        assert written <= asycuda_paths

    async def test_preference_removes_the_duty(self, client: httpx.AsyncClient, asycuda_document: Document) -> None:
        """An item claiming the PIC preference pays no customs duty, and VAT on the duty-free value."""
        root = etree.fromstring(asycuda_document(items=1, seed=5))
        preference = root.find("Item/Tarification/Preference_code")
        preference.clear()
        preference.text = "PIC"
        answer = etree.fromstring((await submit(client, etree.tostring(root), "pref-1")).content)
        assert lines(answer.find("Item"))["CUD"] == 0

    async def test_exports_pay_only_the_fee(self, client: httpx.AsyncClient, asycuda_document: Document) -> None:
        """An export declaration is registered with no item taxes."""
        answer = etree.fromstring((await submit(client, asycuda_document(type_code="EXA", seed=6), "exp-1")).content)
        assert answer.findtext("Identification/Registration/Number")
        assert [lines(item) for item in answer.iterfind("Item")] == [{}, {}]
        assert answer.findtext("Financial/Amounts/Totals_taxes") == "20.00"


def _blank(path: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        element = root.find(path)
        element.clear()
        etree.SubElement(element, "null")
    return change


def _set(path: str, value: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        root.find(path).text = value
    return change


def _drop(path: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        for element in root.findall(path):
            element.getparent().remove(element)
    return change


REJECTIONS = {
    "missing office": (_blank("Identification/Office_segment/Customs_clearance_office_code"), "ASY-FIELD-MANDATORY",
                       "ASYCUDA/Identification/Office_segment/Customs_clearance_office_code"),
    "missing declarant code": (_blank("Declarant/Declarant_code"), "ASY-FIELD-MANDATORY",
                               "ASYCUDA/Declarant/Declarant_code"),
    "missing section": (_drop("Declarant"), "ASY-SECTION-MISSING", "ASYCUDA/Declarant"),
    "no items": (_drop("Item"), "ASY-NO-ITEM", "ASYCUDA/Item"),
    "unknown chapter": (_set("Item[2]/Tarification/HScode/Commodity_code", "77010000"), "ASY-HS-UNKNOWN",
                        "ASYCUDA/Item[2]/Tarification/HScode/Commodity_code"),
    "HS code not 8 digits": (_set("Item[1]/Tarification/HScode/Commodity_code", "0402"), "ASY-HS-INVALID",
                             "ASYCUDA/Item[1]/Tarification/HScode/Commodity_code"),
    "item count mismatch": (_set("Property/Nbers/Total_number_of_items", "3"), "ASY-ITEM-COUNT",
                            "ASYCUDA/Property/Nbers/Total_number_of_items"),
    "unknown office": (_set("Identification/Office_segment/Customs_clearance_office_code", "WSAPW01"),
                       "ASY-OFFICE-UNKNOWN", "ASYCUDA/Identification/Office_segment/Customs_clearance_office_code"),
    "unknown type": (_set("Identification/Type/Type_of_declaration", "XX"), "ASY-TYPE-UNKNOWN",
                     "ASYCUDA/Identification/Type/Type_of_declaration"),
    "bad amount": (_set("Item[1]/Valuation_item/Total_CIF_itm", "12,50"), "ASY-VALUE-INVALID",
                   "ASYCUDA/Item[1]/Valuation_item/Total_CIF_itm"),
}


class TestSimulatorRejections:
    @pytest.mark.parametrize("case", list(REJECTIONS))
    async def test_rejects_what_asycuda_rejects(self, case: str, client: httpx.AsyncClient,
                                                control: SimulatorControl, asycuda_document: Document) -> None:
        """A structurally wrong declaration is refused with 422, an ASYCUDA-like error naming the field,
        and no registration."""
        change, code, field = REJECTIONS[case]
        root = etree.fromstring(asycuda_document(items=2, seed=7))
        change(root)
        key = f"reject-{case}"
        response = await submit(client, etree.tostring(root), key)
        assert response.status_code == 422
        assert (code, field) in errors(response)
        assert await control.registrations(key) == 0

    @pytest.mark.parametrize(("body", "code"), [(b"<ASYCUDA><Item>", "ASY-XML-MALFORMED"),
                                                (b"<Declaration/>", "ASY-XML-ROOT")])
    async def test_rejects_what_is_no_asycuda_document(self, body: bytes, code: str,
                                                       client: httpx.AsyncClient) -> None:
        """A document that is not well-formed, or not an ASYCUDA declaration, is refused with 422."""
        response = await submit(client, body, "not-a-declaration")
        assert response.status_code == 422
        assert [c for c, _ in errors(response)] == [code]

    async def test_reject_next_refuses_that_many(self, client: httpx.AsyncClient, control: SimulatorControl,
                                                 asycuda_document: Document) -> None:
        """``reject_next: 2`` refuses the next two valid declarations under a business rule, then accepts."""
        await control.control(reject_next=2)
        statuses = [(await submit(client, asycuda_document(seed=8), f"rn-{n}")).status_code for n in range(3)]
        assert statuses == [422, 422, 200]


class TestSimulatorIdempotency:
    async def test_known_key_replays_the_first_registration(self, client: httpx.AsyncClient,
                                                           control: SimulatorControl,
                                                           asycuda_document: Document) -> None:
        """A second request under a registered key is answered with the original registration, marked replayed."""
        document = asycuda_document(seed=9)
        first = await submit(client, document, "idem-1")
        again = await submit(client, document, "idem-1")
        assert first.status_code == again.status_code == 200
        assert "Idempotent-Replayed" not in first.headers
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.content == first.content
        assert await control.registrations("idem-1") == 1

    async def test_concurrent_copies_register_once(self, client: httpx.AsyncClient, control: SimulatorControl,
                                                   asycuda_document: Document) -> None:
        """Copies of one declaration sent at the same time are registered once."""
        document = asycuda_document(seed=10)
        answers = await asyncio.gather(*(submit(client, document, "idem-race") for _ in range(5)))
        numbers = {etree.fromstring(a.content).findtext("Identification/Registration/Number") for a in answers}
        assert len(numbers) == 1
        assert await control.registrations("idem-race") == 1

    async def test_without_key_every_request_registers(self, client: httpx.AsyncClient,
                                                       asycuda_document: Document) -> None:
        """Without an Idempotency-Key the simulator, like ASYCUDA, registers each submission."""
        document = asycuda_document(seed=11)
        numbers = [etree.fromstring((await submit(client, document)).content).findtext(
            "Identification/Registration/Number") for _ in range(2)]
        assert numbers[0] != numbers[1]

    async def test_registration_totals(self, client: httpx.AsyncClient) -> None:
        """/control/registrations without a key reports the totals and the yearly counters."""
        totals = (await client.get("/control/registrations")).json()
        assert totals["total"] >= 1 and totals["keys"] >= 1
        assert f"registration:{date.today().year}" in totals["counters"]


class TestSimulatorFailures:
    async def test_delay_slows_every_answer(self, client: httpx.AsyncClient, control: SimulatorControl,
                                            asycuda_document: Document) -> None:
        """With a delay set, a declaration is answered no sooner than the delay."""
        await control.set_delay(0.5)
        started = time.monotonic()
        response = await submit(client, asycuda_document(seed=12), "slow-1")
        assert response.status_code == 200
        assert time.monotonic() - started >= 0.5

    async def test_down_answers_503_but_control(self, client: httpx.AsyncClient, control: SimulatorControl,
                                                asycuda_document: Document) -> None:
        """While down, declarations get 503 with Retry-After, /health 503, and /control keeps working."""
        state = await control.control(down=True)
        assert state["down"] is True
        response = await submit(client, asycuda_document(seed=13), "down-1")
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert (await client.get("/health")).status_code == 503
        assert (await client.get("/control")).status_code == 200
        await control.set_down(False)
        assert (await submit(client, asycuda_document(seed=13), "down-1")).status_code == 200

    async def test_failure_rate_gives_503_or_dropped_connections(self, client: httpx.AsyncClient,
                                                                 control: SimulatorControl,
                                                                 asycuda_document: Document) -> None:
        """At failure rate 1 every request fails: a 503, or a connection dropped in the middle of the answer."""
        await control.control(failure_rate=1.0)
        outcomes = set()
        for n in range(20):
            try:
                response = await submit(client, asycuda_document(seed=14), f"fail-{n}")
                outcomes.add(response.status_code)
            except httpx.TransportError:
                outcomes.add("dropped")
        assert outcomes == {503, "dropped"}

    @pytest.mark.parametrize("body", [{"down": "yes"}, {"delay": -1}, {"failure_rate": 2}, {"reject_next": 1.5},
                                      {"speed": 1}, [1]])
    async def test_bad_control_is_refused(self, body: object, client: httpx.AsyncClient) -> None:
        """A control request with an unknown key or a wrong value is refused with 400 and changes nothing."""
        response = await client.post("/control", json=body)
        assert response.status_code == 400 and response.json()["error"]
        assert (await client.get("/control")).json()["down"] is False


class TestSimulatorHotFolder:
    async def wait_for(self, path: Path, timeout: float = 5.0) -> bytes:
        """Wait for a result file and return its content."""
        deadline = time.monotonic() + timeout
        while not path.exists():
            assert time.monotonic() < deadline, f"no {path.name} in {timeout} s"
            await asyncio.sleep(0.05)
        return path.read_bytes()

    async def test_result_file_for_each_declaration(self, simulator: SimulatorProcess, control: SimulatorControl,
                                                    asycuda_document: Document) -> None:
        """A declaration dropped in the inbox is registered and answered in the outbox under the same name."""
        (simulator.hotfolder / "inbox" / "hf-1.xml").write_bytes(asycuda_document(seed=15))
        answer = etree.fromstring(await self.wait_for(simulator.hotfolder / "outbox" / "hf-1.xml"))
        assert answer.findtext("Identification/Registration/Number")
        assert await control.registrations("hf-1") == 1
        assert not (simulator.hotfolder / "inbox" / "hf-1.xml").exists()

    async def test_rejection_file(self, simulator: SimulatorProcess, control: SimulatorControl) -> None:
        """A declaration ASYCUDA refuses is answered with <name>.err.xml."""
        (simulator.hotfolder / "inbox" / "hf-bad.xml").write_bytes(b"<ASYCUDA>")
        answer = etree.fromstring(await self.wait_for(simulator.hotfolder / "outbox" / "hf-bad.err.xml"))
        assert answer.findtext("Error/Code") == "ASY-XML-MALFORMED"
        assert await control.registrations("hf-bad") == 0

    async def test_down_picks_nothing_up(self, simulator: SimulatorProcess, control: SimulatorControl,
                                         asycuda_document: Document) -> None:
        """While down, files stay in the inbox; once up, they are processed."""
        await control.set_down(True)
        inbox = simulator.hotfolder / "inbox" / "hf-down.xml"
        inbox.write_bytes(asycuda_document(seed=16))
        await asyncio.sleep(0.5)
        assert inbox.exists()
        await control.set_down(False)
        await self.wait_for(simulator.hotfolder / "outbox" / "hf-down.xml")


class TestSimulatorCommand:
    def test_options_set_the_start_state(self, tmp_path: Path, asycuda_document: Document) -> None:
        """--down, --delay, --failure-rate and --rates set the initial controls and the rate table."""
        rates = yaml.safe_load(DEFAULT_RATES.read_text())
        rates["customs_duty"] = {"default": 50, "chapters": {}, "headings": {}}
        rates["preferences"] = {}
        rates_file = tmp_path / "rates.yaml"
        rates_file.write_text(yaml.safe_dump(rates))
        process = SimulatorProcess(tmp_path / "sim.log", "--down", "--delay", "0.1", "--failure-rate", "0",
                                   "--rates", str(rates_file)).start()
        try:
            state = httpx.get(f"{process.url}/control").json()
            assert (state["down"], state["delay"], state["failure_rate"]) == (True, 0.1, 0.0)
            url = f"{process.url}/asycuda/declarations"
            assert httpx.post(url, content=asycuda_document(seed=17)).status_code == 503
            httpx.post(f"{process.url}/control", json={"down": False})
            answer = etree.fromstring(httpx.post(url, content=asycuda_document(seed=17)).content)
            for item in answer.iterfind("Item"):
                assert lines(item) == expected_taxes(item, rates)
                assert item.findtext("Taxation/Taxation_line/Duty_tax_rate") == "50"
        finally:
            process.stop()

    def test_state_file_survives_a_restart(self, tmp_path: Path, asycuda_document: Document) -> None:
        """With --state, a restarted simulator still replays known keys and continues the numbering."""
        state = tmp_path / "state.sqlite"
        numbers = []
        for key in ("kept", "kept", "next"):
            process = SimulatorProcess(tmp_path / "sim.log", "--state", str(state)).start()
            try:
                response = httpx.post(f"{process.url}/asycuda/declarations", content=asycuda_document(seed=18),
                                      headers={"Idempotency-Key": key})
                numbers.append(int(etree.fromstring(response.content).findtext("Identification/Registration/Number")))
                assert httpx.get(f"{process.url}/control/registrations", params={"key": key}).json()["count"] == 1
            finally:
                process.stop()
        assert numbers[0] == numbers[1] and numbers[2] == numbers[0] + 1

    def test_unknown_member_is_refused(self) -> None:
        """A member without rates in the table stops the command with a message naming the members."""
        result = subprocess.run([sys.executable, "-m", "gateway", "simulate", "asycuda", "--member", "ZZ",
                                 "--port", "1"], capture_output=True, text=True, timeout=60)
        assert result.returncode != 0
        assert re.search(r"no member ZZ; members: .*FJ", result.stderr)
