"""The JSON body the single window receives carries the declaration, read from the model."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from gateway.samples import make_declaration
from gateway.sdk import Declaration, idempotency_key
from oco_adapter_example.adapter import json_body

DEC = "{urn:wco:datamodel:WCO:DEC-OCO:1}"


def _declaration(payload: bytes, lrn: str) -> Declaration:
    return Declaration(payload=payload, member="VU", participant="vu-broker", lrn=lrn, function_code="9",
                       tracking_id="t1", idempotency_key=idempotency_key("vu-broker", lrn, "9", payload))


def test_body_carries_parties_traders_and_every_line() -> None:
    payload = make_declaration(member="VU", lrn="VU-JSON-1", items=5, aeo=[("VU0042", "AEOS")], seed=21,
                               representative="VUAGENT1")
    body = json_body(_declaration(payload, "VU-JSON-1"))
    root = etree.fromstring(payload)  # the test reads the XML itself, to check the model-made body
    items = list(root.iter(f"{DEC}GovernmentAgencyGoodsItem"))
    assert body["lrn"] == "VU-JSON-1" and body["procedure"] == "IMA" and body["agentTin"] == "VUAGENT1"
    assert body["declarant"]["tin"] == root.findtext(f"{DEC}Declaration/{DEC}Declarant/{DEC}ID")
    assert body["trustedTraders"] == [{"tin": "VU0042", "scheme": "AEOS"}]
    assert body["invoice"]["amount"] == root.find(f"{DEC}Declaration/{DEC}InvoiceAmount").text
    assert [line["tariff"] for line in body["lines"]] == [
        i.findtext(f"{DEC}Commodity/{DEC}Classification/{DEC}ID") for i in items]
    assert [line["customsValue"]["amount"] for line in body["lines"]] == [
        i.findtext(f"{DEC}CustomsValueAmount") for i in items]
    (currency,) = {line["customsValue"]["currency"] for line in body["lines"]}
    assert Decimal(body["totalsByCurrency"][currency]) == sum(Decimal(i.findtext(f"{DEC}CustomsValueAmount"))
                                                              for i in items)
