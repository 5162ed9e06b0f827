"""Tests for gateway.responses: built Responses validate against the OCO RES schema and read back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

import gateway.responses as responses
from gateway.errors import Issue
from gateway.profiles import Profile, ProfileRegistry
from gateway.responses import FUNCTION_CODES, build_response, read_response

ROOT = Path(__file__).resolve().parents[2]
RES = "urn:wco:datamodel:WCO:RES-OCO:1"
DS = "urn:wco:datamodel:WCO:DS-OCO:1"
TRACKING = "6f1c2a9e-8a51-4d8e-9a43-0c0c0a0f0c0e"


@pytest.fixture(scope="module")
def registry() -> ProfileRegistry:
    return ProfileRegistry.load([ROOT / "schemas"])


def _check(registry: ProfileRegistry, data: bytes) -> Profile:
    root = etree.fromstring(data)
    profile = registry.select(root)
    assert profile.validate(root) == [], data.decode()
    return profile


class TestBuildResponse:
    def test_all_is_sorted(self) -> None:
        """``gateway.responses.__all__`` is sorted."""
        assert responses.__all__ == sorted(responses.__all__)

    @pytest.mark.parametrize(("status", "code"), [("received", "02"), ("rejected", "03"), ("accepted", "01")])
    def test_each_status_is_a_valid_oco_response(self, registry: ProfileRegistry, status: str, code: str) -> None:
        """Received, rejected and accepted Responses validate and carry FunctionCode 02, 03, 01."""
        data = build_response(status=status, tracking_id=TRACKING, lrn="SUV-1", member="FJ", declaration_id="26FJ1")
        assert _check(registry, data).label == "oco/response"
        summary = read_response(data)
        assert (summary.status, summary.function_code, summary.lrn, summary.tracking_id, summary.member,
                summary.declaration_id) == (status, code, "SUV-1", TRACKING, "FJ", "26FJ1")

    def test_issues_become_errors_and_round_trip(self, registry: ProfileRegistry) -> None:
        """Each Issue becomes an Error with ValidationCode, Description and a Pointer; read back unchanged."""
        issues = (
            Issue("SCHEMAV_CVC_MAXLENGTH_VALID", "Element 'dec:FunctionalReferenceID': too long.", 13,
                  "/MetaData/Declaration/FunctionalReferenceID"),
            Issue("OCO-NOT-AUTHORISED", "participant fj-post may not submit for NZ"),
            Issue("OCO-NOT-WELL-FORMED", "not well-formed XML: premature end", 7),
        )
        data = build_response(status="rejected", tracking_id=TRACKING, lrn=None, member=None, issues=issues)
        _check(registry, data)
        assert read_response(data).issues == issues
        errors = etree.fromstring(data).findall(f".//{{{RES}}}Error")
        assert [e.findtext(f"{{{RES}}}ValidationCode") for e in errors] == [i.code for i in issues]
        assert errors[1].find(f"{{{RES}}}Pointer") is None

    def test_hostile_text_is_escaped_cleaned_and_cut(self, registry: ProfileRegistry) -> None:
        """Markup is escaped, control characters and line breaks cleaned, long texts cut to the schema."""
        nasty = "<x>&amp; ]]> \x00\x1b bad\nline\t" + "y" * 600
        data = build_response(status="rejected", tracking_id=TRACKING, lrn="L", member="FJ",
                              issues=[Issue("X" * 80, nasty, 3, "/a" * 400)])
        _check(registry, data)
        (issue,) = read_response(data).issues
        assert issue.message.startswith("<x>&amp; ]]> bad line y") and len(issue.message) == 512
        assert len(issue.code) == 64 and len(issue.path or "") == 512

    def test_echoes_the_schema_cannot_carry_are_left_out(self, registry: ProfileRegistry) -> None:
        """A 40-character LRN or a non-ISO member is not echoed, and the Response stays valid."""
        data = build_response(status="rejected", tracking_id=TRACKING, lrn="L" * 40, member="fiji",
                              issues=[Issue("SCHEMAV_X", "bad")])
        _check(registry, data)
        summary = read_response(data)
        assert (summary.lrn, summary.member, summary.declaration_id) == (None, None, None)

    def test_issue_time_is_written_in_utc(self) -> None:
        """``issued_at`` is converted to UTC (naive taken as UTC) and written as format 304."""
        plus12 = datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=12)))
        for when, text in ((plus12, "20260301213000Z"), (datetime(2026, 3, 2, 9, 30), "20260302093000Z")):
            data = build_response(status="received", tracking_id=TRACKING, lrn="L", member="FJ", issued_at=when)
            stamp = etree.fromstring(data).find(f".//{{{DS}}}DateTimeString")
            assert stamp is not None and (stamp.text, stamp.get("formatCode")) == (text, "304")

    def test_all_function_codes_build_valid_responses(self, registry: ProfileRegistry) -> None:
        """Cleared and invalidated, used by national adapters, validate as well."""
        for status in FUNCTION_CODES:
            _check(registry, build_response(status=status, tracking_id="t", lrn="L", member="FJ"))

    @pytest.mark.parametrize(("status", "tracking"), [("pending", "t"), ("received", ""), ("received", "t" * 71),
                                                      ("received", "   ")])
    def test_programming_errors_raise(self, status: str, tracking: str) -> None:
        """An unknown status or a tracking id the schema cannot carry is a ValueError."""
        with pytest.raises(ValueError):
            build_response(status=status, tracking_id=tracking, lrn=None, member=None)


class TestReadResponse:
    @pytest.mark.parametrize("data", [b"<oops", b"<MetaData/>"], ids=["malformed", "foreign-root"])
    def test_non_responses_raise_value_error(self, data: bytes) -> None:
        """Anything but an OCO MetaData envelope is a ValueError, not an lxml exception."""
        with pytest.raises(ValueError):
            read_response(data)

    def test_unknown_function_code_reads_as_unknown(self) -> None:
        """A code outside the OCO list is reported as status ``unknown`` with the code kept."""
        data = build_response(status="received", tracking_id="t", lrn="L", member="FJ").replace(
            b"<FunctionCode>02<", b"<FunctionCode>77<")
        assert (read_response(data).status, read_response(data).function_code) == ("unknown", "77")


class TestAcceptedResponse:
    def test_registration_and_taxes_round_trip_and_validate(self, registry: ProfileRegistry) -> None:
        """An accepted Response carries the customs reference, acceptance time and assessed taxes, and is valid."""
        from datetime import datetime
        from decimal import Decimal

        from gateway.responses import TaxDue

        data = build_response(status="accepted", tracking_id="t-1", lrn="LRN-9", member="FJ",
                              declaration_id="FJSUV01 C 12 2026", accepted_at=datetime(2026, 11, 24, 1, 2, 3),
                              taxes=[TaxDue("A00", Decimal("12.5"), "FJD", "A 77"), TaxDue("B00", Decimal("3"), "FJD")])
        summary = read_response(data)
        assert (summary.status, summary.declaration_id, summary.lrn) == ("accepted", "FJSUV01 C 12 2026", "LRN-9")
        assert [(t.code, t.amount, t.currency, t.reference) for t in summary.taxes] == [
            ("A00", Decimal("12.50"), "FJD", "A 77"), ("B00", Decimal("3.00"), "FJD", None)]
        _check(registry, data)
