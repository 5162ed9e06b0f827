"""Tests a REST/JSON single-window adapter for VU written with the declaration model and the kit only."""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from gateway.sdk import Declaration, idempotency_key
from gateway.sdk.contract import AdapterContract
from gateway.samples import make_declaration
from tests.adapters.vu_json.adapter import VuSingleWindowAdapter
from tests.adapters.vu_json.system import SingleWindow, serve

DEC = "{urn:wco:datamodel:WCO:DEC-OCO:1}"


@pytest.fixture
async def window() -> AsyncIterator[tuple[SingleWindow, str]]:
    system = SingleWindow()
    async with serve(system.app) as url:
        yield system, url


class TestVuSingleWindowContract(AdapterContract):
    MEMBER = "VU"
    TIMEOUT = 1.0

    @pytest.fixture
    async def national(self, window: tuple[SingleWindow, str]) -> SingleWindow:
        return window[0]

    @pytest.fixture
    async def adapter(self, window: tuple[SingleWindow, str]) -> AsyncIterator[VuSingleWindowAdapter]:
        adapter = VuSingleWindowAdapter(self.MEMBER, {"url": window[1], "timeout": self.TIMEOUT})
        yield adapter
        await adapter.aclose()


class TestVuSingleWindowBody:
    async def test_json_body_carries_the_declaration(self, window: tuple[SingleWindow, str]) -> None:
        """The single window receives, as JSON, the parties, AEO holders and every line of the XML declaration."""
        system, url = window
        payload = make_declaration(member="VU", lrn="VU-JSON-1", items=5, aeo=[("VU0042", "AEOS")], seed=21,
                                   representative="VUAGENT1")
        declaration = Declaration(payload=payload, member="VU", participant="vu-broker", lrn="VU-JSON-1",
                                  function_code="9", tracking_id="t1",
                                  idempotency_key=idempotency_key("vu-broker", "VU-JSON-1", "9", payload))
        adapter = VuSingleWindowAdapter("VU", {"url": url, "timeout": 5.0})
        try:
            answer = await adapter.deliver(declaration)
        finally:
            await adapter.aclose()
        assert answer.accepted, answer.issues
        (body,) = system.bodies
        root = etree.fromstring(payload)  # the test reads the XML itself, to check the adapter's model-made body
        items = list(root.iter(f"{DEC}GovernmentAgencyGoodsItem"))
        assert body["lrn"] == "VU-JSON-1" and body["procedure"] == "IMA" and body["agentTin"] == "VUAGENT1"
        assert body["declarant"]["tin"] == root.findtext(f"{DEC}Declaration/{DEC}Declarant/{DEC}ID")
        assert body["trustedTraders"] == [{"tin": "VU0042", "scheme": "AEOS"}]
        invoice = root.find(f"{DEC}Declaration/{DEC}InvoiceAmount")
        assert body["invoice"] == {"amount": invoice.text, "currency": "USD"}
        assert [line["tariff"] for line in body["lines"]] == [i.findtext(f"{DEC}Commodity/{DEC}Classification/{DEC}ID")
                                                              for i in items]
        assert [line["customsValue"] for line in body["lines"]] == [
            {"amount": i.findtext(f"{DEC}CustomsValueAmount"), "currency": "VUV"} for i in items]
        assert Decimal(body["totalCustomsValue"]["amount"]) == sum(Decimal(i.findtext(f"{DEC}CustomsValueAmount"))
                                                                  for i in items)

    def test_adapter_has_no_xml_code(self) -> None:
        """The adapter imports no XML library and nothing of the gateway but the adapter API."""
        tree = ast.parse((Path(__file__).parent / "adapter.py").read_text(encoding="utf-8"))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {m for m in imported if m.split(".")[0] in ("lxml", "xml", "xmlschema", "defusedxml")}
        assert {m for m in imported if m.startswith("gateway")} == {"gateway.sdk"}
