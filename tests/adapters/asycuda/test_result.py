"""Tests for adapters.asycuda.result: ASYCUDA's answers become NationalAnswers, unreadable ones protocol errors."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from adapters.asycuda.fields import wco_pointer
from adapters.asycuda.result import read_reply
from adapters.asycuda.transport import Reply
from gateway.profiles._model import default_readers
from gateway.samples import make_declaration
from gateway.sdk import AdapterProtocolError, Issue, TaxLine
from gateway.sdk.contract import resolve_pointer

PAYLOAD = make_declaration(member="FJ", lrn="R-1", items=3, seed=2)
MODEL = default_readers()(PAYLOAD)
ITEMS = "/MetaData/Declaration/GoodsShipment/GovernmentAgencyGoodsItem"

ASSESSED = b"""<?xml version="1.0" encoding="UTF-8"?>
<ASYCUDA id="5000001">
<Global_taxes><Global_tax_item>CAF 20.00</Global_tax_item></Global_taxes>
<Identification>
<Office_segment><Customs_clearance_office_code>FJSUV01</Customs_clearance_office_code></Office_segment>
<Registration><Serial_number>C</Serial_number><Number>1234</Number><Date>3/2/26</Date></Registration>
<Assessment><Serial_number>A</Serial_number><Number>1187</Number><Date>3/2/26</Date></Assessment>
</Identification>
<Financial><Amounts><Global_taxes>20.00</Global_taxes><Totals_taxes>170.50</Totals_taxes></Amounts></Financial>
<Item><Taxation>
<Taxation_line><Duty_tax_code>CUD</Duty_tax_code><Duty_tax_amount>50.00</Duty_tax_amount></Taxation_line>
<Taxation_line><Duty_tax_code><null/></Duty_tax_code><Duty_tax_amount/></Taxation_line>
</Taxation></Item>
<Item><Taxation>
<Taxation_line><Duty_tax_code>VAT</Duty_tax_code><Duty_tax_amount>100.50</Duty_tax_amount></Taxation_line>
</Taxation></Item>
</ASYCUDA>"""

ERRORS = b"""<ASYCUDA_ERRORS>
<Error><Code>ASY-HS-UNKNOWN</Code><Message>unknown chapter 77</Message>
<Field>ASYCUDA/Item[2]/Tarification/HScode/Commodity_code</Field></Error>
<Error><Code>ASY-ITEM-COUNT</Code><Message>3 items declared, 2 found</Message></Error>
</ASYCUDA_ERRORS>"""


class TestReadReply:
    def test_registration_and_assessment(self) -> None:
        """A result gives the registration (reference office serial number year) and every tax with its item."""
        answer = read_reply(Reply(ASSESSED), member="FJ", currency="FJD")
        assert answer.accepted and not answer.duplicate
        assert answer.registration is not None and answer.assessment is not None
        assert answer.registration.reference == "FJSUV01 C 1234 2026"
        assert answer.registration.date == datetime(2026, 3, 2)
        assert (answer.assessment.serial, answer.assessment.number) == ("A", "1187")
        assert answer.assessment.total == Decimal("170.50") and answer.assessment.currency == "FJD"
        assert answer.assessment.taxes == (TaxLine("CUD", Decimal("50.00"), 1), TaxLine("VAT", Decimal("100.50"), 2),
                                           TaxLine("CAF", Decimal("20.00")))
        assert answer.raw == ASSESSED

    def test_replay_is_a_duplicate(self) -> None:
        """An answer ASYCUDA marked as replayed is a duplicate."""
        assert read_reply(Reply(ASSESSED, replayed=True), member="FJ", currency="FJD").duplicate

    def test_registered_but_not_assessed(self) -> None:
        """Without an assessment number the answer has a registration and no assessment."""
        body = ASSESSED.replace(b"<Number>1187</Number>", b"<Number/>")
        answer = read_reply(Reply(body), member="FJ", currency="FJD")
        assert answer.registration is not None and answer.assessment is None

    def test_rejection_lists_the_errors(self) -> None:
        """A rejection becomes a refused answer with one Issue per ASYCUDA error, coded <MEMBER>-ASYCUDA-<code>,
        the field pointed back at the WCO element it was mapped from."""
        answer = read_reply(Reply(ERRORS, rejected=True), member="FJ", currency="FJD", model=MODEL)
        assert not answer.accepted
        assert answer.issues == (
            Issue("FJ-ASYCUDA-ASY-HS-UNKNOWN", "unknown chapter 77",
                  path="/MetaData/Declaration/GoodsShipment/GovernmentAgencyGoodsItem[2]/Commodity/Classification/ID"),
            Issue("FJ-ASYCUDA-ASY-ITEM-COUNT", "3 items declared, 2 found"))

    def test_without_a_model_no_national_path_is_shown(self) -> None:
        """With no model to map through, an error has no pointer rather than ASYCUDA's own path."""
        answer = read_reply(Reply(ERRORS, rejected=True), member="FJ", currency="FJD")
        assert [i.path for i in answer.issues] == [None, None]

    @pytest.mark.parametrize(("field", "pointer"), [
        ("ASYCUDA/Item[3]/Goods_description/Country_of_origin_code", f"{ITEMS}[3]/Origin/CountryCode"),
        ("ASYCUDA/Item[1]/Valuation_item/Total_CIF_itm", f"{ITEMS}[1]/CustomsValueAmount"),
        ("ASYCUDA/Item[2]/Packages/Kind_of_packages_code", f"{ITEMS}[2]/Packaging/TypeCode"),
        ("ASYCUDA/Item[2]/Free_text_1", f"{ITEMS}[2]"),
        ("ASYCUDA/Item[9]/Tarification/HScode/Commodity_code", None),
        ("ASYCUDA/Identification/Office_segment/Customs_clearance_office_code", "/MetaData/Declaration/DeclarationOfficeID"),
        ("ASYCUDA/Declarant/Declarant_code", "/MetaData/Declaration/Declarant"),
        ("ASYCUDA/Declarant/Reference/Number", "/MetaData/Declaration/FunctionalReferenceID"),
        ("ASYCUDA/Transit/Seals", None),
        (None, None),
    ])
    def test_fields_point_at_the_wco_elements(self, field: str | None, pointer: str | None) -> None:
        """Item fields point at the item's mapped element (the item itself when unmapped), header fields at
        theirs; an unknown header field or an item the declaration does not have points at nothing."""
        assert wco_pointer(field, MODEL) == pointer
        if pointer is not None:
            assert resolve_pointer(PAYLOAD, pointer) is not None

    @pytest.mark.parametrize(("body", "rejected"), [
        (b"<html><body>Bad gateway</body></html", False),
        (b"Service temporarily unavailable", False),
        (b"<html/>", False),
        (ASSESSED.replace(b"<Number>1234</Number>", b"<Number/>"), False),
        (ASSESSED.replace(b"3/2/26", b"2026-03-02"), False),
        (ASSESSED.replace(b"170.50", b"lots"), False),
        (b"<ASYCUDA/>", True),
        (b"<ASYCUDA_ERRORS/>", True),
    ])
    def test_unreadable_answer_is_a_protocol_error(self, body: bytes, rejected: bool) -> None:
        """Not XML, an unexpected root, no registration number, a bad date or amount, or an empty error list
        raise AdapterProtocolError with the member and adapter."""
        with pytest.raises(AdapterProtocolError) as caught:
            read_reply(Reply(body, rejected=rejected), member="FJ", currency="FJD")
        assert (caught.value.member, caught.value.adapter) == ("FJ", "asycuda")
