"""Tests for gateway.pipeline.extract: routing fields read through the profile's compiled paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import Unidentified
from gateway.pipeline.context import Submission
from gateway.routing import AeoHolder, RoutingFields
from gateway.pipeline.extract import extract_routing
from gateway.pipeline.identify import ProfileSelector
from gateway.pipeline.parse import SafeParser
from gateway.pipeline.validate import validate_schema
from gateway.profiles import ProfileRegistry
from gateway.responses import build_response
from gateway.samples import make_declaration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def identify() -> ProfileSelector:
    return ProfileSelector(ProfileRegistry.load([ROOT / "schemas"]))


def _ready(identify: ProfileSelector, payload: bytes) -> Submission:
    return identify(SafeParser(1_000_000)(Submission(payload=payload, participant="p", tracking_id="t")))


def _refusal(identify: ProfileSelector, payload: bytes) -> Unidentified:
    with pytest.raises(Unidentified) as info:
        extract_routing(_ready(identify, payload))
    assert info.value.stage == "extract" and info.value.dead_letter
    return info.value


class TestExtractRouting:
    def test_fields_of_a_declaration_with_aeo_holders(self, identify: ProfileSelector) -> None:
        """Member, LRN, function and type codes, declarant and every AEO holder are read."""
        payload = make_declaration(member="WS", lrn="APW-77", declarant="WS1234567", items=2, seed=1,
                                   aeo=[("WS7001234", "AEOF"), ("NZAEO0031", "AEOS")], type_code="EXA")
        routing = extract_routing(_ready(identify, payload)).routing
        assert routing == RoutingFields(
            member="WS", lrn="APW-77", function_code="9", type_code="EXA", declarant="WS1234567",
            declaration_id=None,
            aeo_holders=(AeoHolder("WS7001234", "AEOF"), AeoHolder("NZAEO0031", "AEOS")),
        )

    def test_amendment_carries_the_customs_reference(self, identify: ProfileSelector) -> None:
        """A FunctionCode 13 declaration yields its customs ID as ``declaration_id``."""
        routing = extract_routing(_ready(identify, make_declaration(
            member="TO", lrn="TBU-1", function_code="13", seed=2))).routing
        assert routing is not None and routing.function_code == "13"
        assert routing.declaration_id and routing.declaration_id.startswith("26TO")

    def test_values_are_trimmed(self, identify: ProfileSelector) -> None:
        """Surrounding whitespace, valid in an ID, does not end up in the Kafka key."""
        payload = make_declaration(member="FJ", lrn="SUV-9", seed=3).replace(b">SUV-9<", b">  SUV-9  <", 1)
        submission = validate_schema(_ready(identify, payload))
        assert extract_routing(submission).routing.lrn == "SUV-9"  # type: ignore[union-attr]

    def test_declaration_without_member_is_unidentified(self, identify: ProfileSelector) -> None:
        """ResponsibleCountryCode is optional in WCO but the gateway cannot route without it."""
        payload = make_declaration(member="FJ", lrn="L-1", seed=4).replace(
            b"<md:ResponsibleCountryCode>FJ</md:ResponsibleCountryCode>", b"", 1)
        validate_schema(_ready(identify, payload))  # schema-valid all the same
        (issue,) = _refusal(identify, payload).issues
        assert issue.code == "OCO-MISSING-ROUTING-FIELD"
        assert "member" in issue.message and issue.path == "md:ResponsibleCountryCode"

    def test_empty_lrn_is_named(self, identify: ProfileSelector) -> None:
        """A blank LRN counts as missing, and the issue names the field."""
        payload = make_declaration(member="FJ", lrn="L-2", seed=5).replace(b">L-2<", b">   <", 1)
        (issue,) = _refusal(identify, payload).issues
        assert issue.code == "OCO-MISSING-ROUTING-FIELD" and "lrn" in issue.message

    def test_response_is_not_a_declaration(self, identify: ProfileSelector) -> None:
        """A Response submitted as input is refused: only declarations are routed."""
        payload = build_response(status="received", tracking_id="t-9", lrn="L", member="FJ")
        (issue,) = _refusal(identify, payload).issues
        assert issue.code == "OCO-NOT-A-DECLARATION" and "RES" in issue.message
