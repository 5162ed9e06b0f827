"""Reading WCO DM Responses of any profile into national answers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from adapters.wco_xml.answer import read_answer
from gateway.errors import Issue
from gateway.responses import TaxDue, build_response

# A response of another administration's profile (namespaces of UK HMRC's DMS), with a Pointer and a
# date in WCO format 102: the adapter must read it by local names.
_FOREIGN_REJECTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<md:MetaData xmlns:md="urn:wco:datamodel:WCO:DocumentMetaData-DMS:2" xmlns="urn:wco:datamodel:WCO:RES-DMS:2">
  <md:WCODataModelVersionCode>3.6</md:WCODataModelVersionCode>
  <Response>
    <FunctionCode>03</FunctionCode>
    <Error>
      <ValidationCode>CDS12015</ValidationCode>
      <Description>  Commodity code
        not valid  </Description>
      <Pointer><Location>/Declaration/GoodsShipment/GovernmentAgencyGoodsItem[1]</Location>
        <LineNumeric>42</LineNumeric></Pointer>
    </Error>
    <Error><ValidationCode>CDS10020</ValidationCode></Error>
  </Response>
</md:MetaData>"""


def _response(body: str) -> bytes:
    return f"<Response xmlns='urn:x'>{body}</Response>".encode()


class TestReadAnswer:
    def test_oco_acceptance_gives_registration_and_assessment(self) -> None:
        """An OCO Response 01 gives the reference, acceptance time and assessed taxes."""
        accepted_at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
        raw = build_response(status="accepted", tracking_id="t-1", lrn="LRN1", member="NZ",
                             declaration_id="26NZ000000007", accepted_at=accepted_at,
                             taxes=[TaxDue("GST", Decimal("15.00"), "NZD", "A7"),
                                    TaxDue("EXC", Decimal("2.50"), "NZD", "A7")])
        answer = read_answer(raw)
        assert answer.accepted and not answer.duplicate and answer.raw == raw
        assert answer.registration is not None
        assert (answer.registration.reference, answer.registration.date) == ("26NZ000000007", accepted_at)
        assert answer.assessment is not None
        assert (answer.assessment.number, answer.assessment.total, answer.assessment.currency) == (
            "A7", Decimal("17.50"), "NZD")
        assert [(t.code, t.amount) for t in answer.assessment.taxes] == [("GST", Decimal("15.00")),
                                                                         ("EXC", Decimal("2.50"))]

    def test_taxes_in_several_currencies_keep_their_own(self) -> None:
        """Lines in another currency than the first keep it (TaxLine.currency); the total sums the first's."""
        raw = build_response(status="accepted", tracking_id="t-1", lrn="LRN1", member="NZ", declaration_id="26NZ8",
                             taxes=[TaxDue("GST", Decimal("15.00"), "NZD", "A8"), TaxDue("GST", Decimal("4.00"), "USD", "A8"),
                                    TaxDue("EXC", Decimal("1.00"), "NZD", "A8")])
        assessment = read_answer(raw).assessment
        assert assessment is not None and (assessment.currency, assessment.total) == ("NZD", Decimal("16.00"))
        assert [(t.code, t.amount, t.currency) for t in assessment.taxes] == [
            ("GST", Decimal("15.00"), None), ("GST", Decimal("4.00"), "USD"), ("EXC", Decimal("1.00"), None)]

    def test_oco_rejection_gives_issues(self) -> None:
        """An OCO Response 03 gives one issue per Error, with code, message, path and line."""
        raw = build_response(status="rejected", tracking_id="t", lrn="L", member="NZ",
                             issues=[Issue("TSW-X", "bad thing", line=3, path="/a/b")])
        answer = read_answer(raw)
        assert not answer.accepted and answer.registration is None
        assert answer.issues == (Issue("TSW-X", "bad thing", line=3, path="/a/b"),)

    def test_member_and_system_give_convention_codes_and_pointers(self) -> None:
        """With the member and the system's tag: <MEMBER>-<SYSTEM>-<national code>, pointers without namespace
        prefixes; a Location that is no path is kept as written; an odd code goes into the message."""
        raw = build_response(status="rejected", tracking_id="t", lrn="L", member="NZ", issues=[
            Issue("TSW-DUPLICATE-LRN", "taken", path="/md:MetaData/dec:Declaration/dec:FunctionalReferenceID"),
            Issue("SCHEMAV_ELEMENT_CONTENT", "bad", line=7, path="line 7 somewhere"),
            Issue("E 12/a?", "odd")])
        answer = read_answer(raw, member="NZ", system="WCO")
        assert answer.issues == (
            Issue("NZ-WCO-TSW-DUPLICATE-LRN", "taken", path="/MetaData/Declaration/FunctionalReferenceID"),
            Issue("NZ-WCO-SCHEMAV_ELEMENT_CONTENT", "bad", line=7, path="line 7 somewhere"),
            Issue("NZ-WCO-ERROR", "E 12/a?: odd"))

    def test_foreign_profile_rejection_is_read_by_local_names(self) -> None:
        """A Response in another administration's namespaces is read; a missing Description falls back to the code."""
        answer = read_answer(_FOREIGN_REJECTED)
        assert not answer.accepted
        assert answer.issues == (
            Issue("CDS12015", "Commodity code not valid", line=42,
                  path="/Declaration/GoodsShipment/GovernmentAgencyGoodsItem[1]"),
            Issue("CDS10020", "CDS10020"),
        )

    @pytest.mark.parametrize("code", ["01", "02", "09", "10"])
    def test_accepting_function_codes(self, code: str) -> None:
        """FunctionCodes 01, 02, 09 and 10 are accepting answers, with or without a customs reference."""
        answer = read_answer(_response(f"<FunctionCode>{code}</FunctionCode>"))
        assert answer.accepted and answer.registration is None and answer.assessment is None

    def test_bare_response_root_with_date_format_102(self) -> None:
        """A Response without envelope is read, and an AcceptanceDateTime in format 102 becomes a date."""
        answer = read_answer(_response("<FunctionCode>01</FunctionCode><Declaration><AcceptanceDateTime>"
                                       "<DateTimeString formatCode='102'>20260131</DateTimeString>"
                                       "</AcceptanceDateTime><ID>REF-1</ID></Declaration>"))
        assert answer.registration is not None
        assert answer.registration.date == datetime(2026, 1, 31, tzinfo=UTC)

    def test_unreadable_date_is_left_out(self) -> None:
        """An acceptance date in an unknown format leaves the date out but keeps the registration."""
        answer = read_answer(_response("<FunctionCode>01</FunctionCode><Declaration><AcceptanceDateTime>"
                                       "yesterday</AcceptanceDateTime><ID>REF-2</ID></Declaration>"))
        assert answer.registration is not None and answer.registration.reference == "REF-2"
        assert answer.registration.date is None

    def test_rejection_without_errors_gets_a_reason(self) -> None:
        """A Response 03 without any Error still carries one coded reason for the submitter."""
        answer = read_answer(_response("<FunctionCode>03</FunctionCode>"))
        assert not answer.accepted and answer.issues[0].code == "OCO-NATIONAL-REJECTION"

    def test_duplicate_flag_is_passed_through(self) -> None:
        """The caller's replay flag becomes NationalAnswer.duplicate."""
        assert read_answer(_response("<FunctionCode>01</FunctionCode>"), duplicate=True).duplicate

    @pytest.mark.parametrize(("data", "words"), [
        (b"not xml", "not well-formed"),
        (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>', "DTD"),
        (b"<MetaData><Declaration/></MetaData>", "no Response element"),
        (_response("<FunctionCode>05</FunctionCode>"), "FunctionCode '05'"),
        (_response(""), "FunctionCode ''"),
        (_response("<FunctionCode>01</FunctionCode><Declaration><DutyTaxFee><Payment>"
                   "<TaxAssessedAmount currencyID='NZD'>lots</TaxAssessedAmount></Payment></DutyTaxFee>"
                   "</Declaration>"), "not a number"),
        (_response("<FunctionCode>01</FunctionCode><Declaration><DutyTaxFee><Payment>"
                   "<TaxAssessedAmount>1</TaxAssessedAmount></Payment></DutyTaxFee></Declaration>"), "no currencyID"),
    ])
    def test_unreadable_answers_raise_value_error(self, data: bytes, words: str) -> None:
        """Malformed XML, a DTD, no Response, an unknown FunctionCode or unreadable taxes raise ValueError."""
        with pytest.raises(ValueError, match=words):
            read_answer(data)
