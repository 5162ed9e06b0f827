"""The WCO single-window simulator process: validation, business rules, idempotent replay, control API."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import httpx
import pytest
from click.testing import CliRunner
from lxml import etree

from adapters.wco_xml.simulator import wco
from gateway.config import default_profiles_dir
from gateway.profiles import ProfileRegistry
from gateway.responses import read_response
from gateway.samples import make_declaration
from gateway.sdk.simclient import SimulatorControl
from tests.adapters.wco_xml.conftest import MEMBER

_SEQ = itertools.count(1)


@pytest.fixture
async def client(wco_simulator: str, wco_control: SimulatorControl) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the simulator (reset to normal by ``wco_control``)."""
    async with httpx.AsyncClient(base_url=wco_simulator, timeout=10) as http:
        yield http


@pytest.fixture(scope="module")
def profiles() -> ProfileRegistry:
    """The gateway's own profiles, to check the simulator's answers are valid Responses."""
    return ProfileRegistry.load(default_profiles_dir())


def _lrn() -> str:
    return f"SIM-{next(_SEQ)}-{id(_SEQ) % 10**6}"


async def _post(client: httpx.AsyncClient, payload: bytes, key: str | None = None,
                tracking_id: str = "trk-sim") -> httpx.Response:
    headers = {"Content-Type": "application/xml", "X-OCO-Tracking-Id": tracking_id}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post("/declarations", content=payload, headers=headers)


def _codes(response: httpx.Response) -> list[str]:
    return [issue.code for issue in read_response(response.content).issues]


class TestDeclarations:
    async def test_valid_declaration_is_registered_with_a_valid_response(
            self, client: httpx.AsyncClient, profiles: ProfileRegistry) -> None:
        """A valid declaration gets HTTP 201 and an OCO Response 01 with reference, acceptance time and GST."""
        lrn = _lrn()
        response = await _post(client, make_declaration(member=MEMBER, lrn=lrn, items=3, seed=1), key=lrn,
                               tracking_id="trk-valid")
        assert response.status_code == 201
        root = etree.fromstring(response.content)
        profile = profiles.select(root)
        assert profile.kind == "RES" and profile.validate(root) == []
        summary = read_response(response.content)
        assert summary.status == "accepted" and summary.lrn == lrn and summary.tracking_id == "trk-valid"
        assert summary.declaration_id and summary.declaration_id[2:4] == MEMBER
        assert [tax.code for tax in summary.taxes] == ["GST"] and summary.taxes[0].amount > 0
        assert b"AcceptanceDateTime" in response.content

    async def test_redelivery_replays_the_original_answer(self, client: httpx.AsyncClient,
                                                          wco_control: SimulatorControl) -> None:
        """The same Idempotency-Key again gets HTTP 200, the identical Response, a replay header, one registration."""
        lrn = _lrn()
        payload = make_declaration(member=MEMBER, lrn=lrn, seed=2)
        first = await _post(client, payload, key=f"key-{lrn}")
        again = await _post(client, payload, key=f"key-{lrn}", tracking_id="trk-other")
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.content == first.content
        assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
        assert await wco_control.registrations(f"key-{lrn}") == 1

    async def test_schema_errors_are_refused_with_pointers(self, client: httpx.AsyncClient,
                                                           wco_control: SimulatorControl) -> None:
        """A declaration breaking the OCO XSD gets HTTP 422 and a Response 03 with SCHEMAV codes and locations."""
        lrn = _lrn()
        payload = make_declaration(member=MEMBER, lrn=lrn, seed=3).replace(b"<TypeCode>IMA</TypeCode>",
                                                                            b"<TypeCode>IMPORTS</TypeCode>", 1)
        response = await _post(client, payload, key=lrn)
        summary = read_response(response.content)
        assert response.status_code == 422 and summary.status == "rejected"
        assert summary.issues and all(i.code.startswith("SCHEMAV_") for i in summary.issues)
        assert any(i.path and "TypeCode" in i.path for i in summary.issues)
        assert await wco_control.registrations(lrn) == 0

    @pytest.mark.parametrize(("payload", "code"), [
        (b"<MetaData><unclosed></MetaData>", "OCO-NOT-WELL-FORMED"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "OCO-DTD-FORBIDDEN"),
        (b"<Declaration xmlns='urn:example:other'/>", "OCO-UNKNOWN-PROFILE"),
    ])
    async def test_unreadable_documents_are_refused(self, client: httpx.AsyncClient, payload: bytes,
                                                    code: str) -> None:
        """Malformed XML, a DTD, or a document of no known profile is refused with the gateway's code."""
        response = await _post(client, payload, key=_lrn())
        assert response.status_code == 422
        assert _codes(response) == [code]

    async def test_response_posted_as_declaration_is_refused(self, client: httpx.AsyncClient) -> None:
        """A WCO Response posted to /declarations is refused as not a declaration."""
        from gateway.responses import build_response
        body = build_response(status="accepted", tracking_id="t", lrn="L", member=MEMBER)
        response = await _post(client, body, key=_lrn())
        assert response.status_code == 422 and _codes(response) == ["TSW-NOT-A-DECLARATION"]

    async def test_declaration_for_another_member_is_refused(self, client: httpx.AsyncClient) -> None:
        """A schema-valid declaration addressed to Fiji is refused by New Zealand's business rules."""
        payload = make_declaration(member="FJ", lrn=_lrn(), declarant=f"{MEMBER}1234567", seed=4)
        response = await _post(client, payload, key=_lrn())
        assert response.status_code == 422 and _codes(response) == ["TSW-WRONG-MEMBER"]
        assert read_response(response.content).issues[0].path == "/md:MetaData/md:ResponsibleCountryCode"

    async def test_unknown_declarant_is_refused(self, client: httpx.AsyncClient) -> None:
        """A declarant id not of the member's pattern (NZ and 7 digits) is refused."""
        payload = make_declaration(member=MEMBER, lrn=_lrn(), declarant="BROKER-42", seed=5)
        response = await _post(client, payload, key=_lrn())
        assert response.status_code == 422 and _codes(response) == ["TSW-UNKNOWN-DECLARANT"]

    async def test_missing_idempotency_key_is_refused(self, client: httpx.AsyncClient) -> None:
        """A declaration without an Idempotency-Key header is refused, not registered."""
        response = await _post(client, make_declaration(member=MEMBER, lrn=_lrn(), seed=6))
        assert response.status_code == 422 and _codes(response) == ["TSW-NO-IDEMPOTENCY-KEY"]

    async def test_rejection_is_not_remembered(self, client: httpx.AsyncClient,
                                               wco_control: SimulatorControl) -> None:
        """A declaration refused under reject_next is judged afresh, and registered, when delivered again."""
        lrn = _lrn()
        payload = make_declaration(member=MEMBER, lrn=lrn, seed=7)
        await wco_control.reject_next()
        refused = await _post(client, payload, key=lrn)
        accepted = await _post(client, payload, key=lrn)
        assert refused.status_code == 422 and _codes(refused) == ["TSW-REJECTED"]
        assert accepted.status_code == 201
        assert await wco_control.registrations(lrn) == 1


class TestControl:
    async def test_control_reports_and_changes_knobs(self, client: httpx.AsyncClient) -> None:
        """POST /control changes only the given knobs and GET /control reports them all."""
        changed = await client.post("/control", json={"delay": 0.5, "reject_next": 2})
        assert changed.json() == {"down": False, "delay": 0.5, "failure_rate": 0.0, "reject_next": 2}
        assert (await client.get("/control")).json() == changed.json()

    @pytest.mark.parametrize(("changes", "named"), [
        ({"delay": -1}, "delay"), ({"failure_rate": 2}, "failure_rate"), ({"down": "yes"}, "down"),
        ({"reject_next": 1.5}, "reject_next"), ({"slow": True}, "slow"),
    ])
    async def test_bad_control_values_are_refused(self, client: httpx.AsyncClient, changes: dict[str, object],
                                                  named: str) -> None:
        """A control value out of range or an unknown knob gets HTTP 400 naming it, and changes nothing."""
        response = await client.post("/control", json={"down": True, **changes})
        assert response.status_code == 400 and named in response.json()["error"]
        assert (await client.get("/control")).json()["down"] is False

    async def test_down_answers_503_and_health_stays_up(self, client: httpx.AsyncClient) -> None:
        """While down, declarations get HTTP 503 with Retry-After, and /health still answers (down: true)."""
        await client.post("/control", json={"down": True})
        response = await _post(client, make_declaration(member=MEMBER, lrn=_lrn(), seed=8), key=_lrn())
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert (await client.get("/health")).json() == {"status": "ok", "member": MEMBER, "down": True}

    async def test_failure_rate_one_fails_every_declaration(self, client: httpx.AsyncClient) -> None:
        """With failure_rate 1 every declaration gets HTTP 503."""
        await client.post("/control", json={"failure_rate": 1})
        response = await _post(client, make_declaration(member=MEMBER, lrn=_lrn(), seed=9), key=_lrn())
        assert response.status_code == 503

    async def test_registrations_need_a_key(self, client: httpx.AsyncClient) -> None:
        """GET /control/registrations without ?key= is HTTP 400; with an unknown key it counts 0."""
        assert (await client.get("/control/registrations")).status_code == 400
        assert (await client.get("/control/registrations", params={"key": "nope"})).json() == {"key": "nope",
                                                                                              "count": 0}


class TestCommand:
    def test_member_must_be_a_country_code(self) -> None:
        """``simulate wco --member nz`` is refused before anything starts."""
        result = CliRunner().invoke(wco, ["--member", "nz", "--port", "0"])
        assert result.exit_code == 2 and "alpha-2" in result.output
