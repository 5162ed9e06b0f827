"""A refusal of the single window reaches the trader coded <MEMBER>-EXSW-<REASON>, pointing into its own document."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from lxml import etree

from gateway.samples import make_declaration
from gateway.sdk import Declaration, idempotency_key
from gateway.sdk.contract import resolve_pointer
from oco_adapter_example import ExampleAdapter


def _declaration(items: int = 3) -> Declaration:
    payload = make_declaration(member="VU", lrn="VU-ISSUE-1", items=items, seed=8)
    return Declaration(payload=payload, member="VU", participant="vu-broker", lrn="VU-ISSUE-1", function_code="9",
                       tracking_id="t", idempotency_key=idempotency_key("vu-broker", "VU-ISSUE-1", "9", payload))


@pytest.fixture
async def refusing() -> AsyncIterator[ExampleAdapter]:
    """The adapter against a single window that refuses line 2's tariff and the office, as the real one would."""
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"status": "REFUSED", "errors": [
            {"code": "TARIFF", "field": "lines[2].tariff", "message": "not in the national tariff"},
            {"code": "OFFICE", "field": "office", "message": "office closed"},
            {"code": "RULE", "field": "", "message": "refused"}]})

    adapter = ExampleAdapter("VU", {"url": "http://single-window.test"})
    adapter._client = httpx.AsyncClient(base_url="http://single-window.test",  # noqa: SLF001 - the transport only
                                        transport=httpx.MockTransport(refuse))
    yield adapter
    await adapter.aclose()


async def test_each_refused_field_points_at_its_element(refusing: ExampleAdapter) -> None:
    declaration = _declaration()
    answer = await refusing.deliver(declaration)
    assert not answer.accepted
    tariff, office, rule = answer.issues
    assert (tariff.code, office.code, rule.code) == ("VU-EXSW-TARIFF", "VU-EXSW-OFFICE", "VU-EXSW-RULE")
    assert tariff.path and tariff.path.endswith("GovernmentAgencyGoodsItem[2]/Commodity/Classification/ID")
    element = resolve_pointer(declaration.payload, tariff.path)
    second = list(etree.fromstring(declaration.payload).iter("{*}GovernmentAgencyGoodsItem"))[1]
    assert element is not None and element.text == second.findtext("{*}Commodity/{*}Classification/{*}ID")
    assert office.path and resolve_pointer(declaration.payload, office.path).text == declaration.model.office
    assert rule.path is None  # not tied to one element
