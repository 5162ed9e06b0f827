"""Tests for gateway.pipeline.validate (and the Issues it builds): every schema error, with line and path."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from gateway.errors import SchemaInvalid
from gateway.pipeline.context import Submission
from gateway.pipeline.identify import ProfileSelector
from gateway.pipeline.parse import SafeParser
from gateway.pipeline.validate import validate_schema
from gateway.profiles import ProfileRegistry
from gateway.profiles._issues import element_path
from gateway.responses import build_response
from gateway.samples import make_declaration

ROOT = Path(__file__).resolve().parents[2]
DEC = "urn:wco:datamodel:WCO:DEC-OCO:1"


@pytest.fixture(scope="module")
def identify() -> ProfileSelector:
    return ProfileSelector(ProfileRegistry.load([ROOT / "schemas"]))


def _ready(identify: ProfileSelector, payload: bytes) -> Submission:
    return identify(SafeParser(1_000_000)(Submission(payload=payload, participant="p", tracking_id="t")))


def _issues(identify: ProfileSelector, payload: bytes) -> SchemaInvalid:
    with pytest.raises(SchemaInvalid) as info:
        validate_schema(_ready(identify, payload))
    return info.value


def _line_of(payload: bytes, needle: bytes, occurrence: int = 1) -> int:
    at = -1
    for _ in range(occurrence):
        at = payload.index(needle, at + 1)
    return payload[:at].count(b"\n") + 1


class TestValidateSchema:
    def test_valid_declaration_passes_unchanged(self, identify: ProfileSelector) -> None:
        """A sample declaration passes and the same submission comes back."""
        submission = _ready(identify, make_declaration(member="FJ", lrn="LRN-1", items=4, seed=1))
        assert validate_schema(submission) is submission

    def test_built_response_is_valid_too(self, identify: ProfileSelector) -> None:
        """A Response the gateway builds passes its own profile's schema."""
        validate_schema(_ready(identify, build_response(status="accepted", tracking_id="t", lrn="L", member="WS")))

    def test_long_lrn_is_reported_with_code_line_and_path(self, identify: ProfileSelector) -> None:
        """A 40-character LRN gives one Issue: libxml2's type name, the line and a readable element path."""
        payload = make_declaration(member="FJ", lrn="LRN-BAD", items=2, seed=3).replace(b"LRN-BAD", b"L" * 40, 1)
        rejection = _issues(identify, payload)
        (issue,) = rejection.issues
        assert issue.code == "SCHEMAV_CVC_MAXLENGTH_VALID"
        assert issue.line == _line_of(payload, b"<FunctionalReferenceID>")
        assert issue.path == "/MetaData/Declaration/FunctionalReferenceID"
        assert rejection.stage == "validate" and not rejection.dead_letter

    def test_every_error_is_reported(self, identify: ProfileSelector) -> None:
        """Errors in separate places are all returned, each with the position of its goods item."""
        payload = make_declaration(member="FJ", lrn="LRN-2", items=3, seed=4).replace(b"LRN-2", b"X" * 36, 1)
        root = etree.fromstring(payload)
        ids = root.findall(f".//{{{DEC}}}Classification/{{{DEC}}}ID")
        bad_hs = payload.replace(f"<ID>{ids[1].text}</ID>".encode(), b"<ID>8517</ID>", 1)
        rejection = _issues(identify, bad_hs)
        assert [i.code for i in rejection.issues] == ["SCHEMAV_CVC_MAXLENGTH_VALID", "SCHEMAV_CVC_PATTERN_VALID"]
        assert rejection.issues[1].path == (
            "/MetaData/Declaration/GoodsShipment/GovernmentAgencyGoodsItem[2]/Commodity/Classification/ID")

    def test_messages_use_profile_prefixes_not_namespace_uris(self, identify: ProfileSelector) -> None:
        """Element names in messages read ``dec:FunctionCode``, not the full namespace URI."""
        payload = make_declaration(member="FJ", lrn="L", seed=5).replace(
            b"<FunctionCode>9</FunctionCode>", b"<FunctionCode>77</FunctionCode>", 1)
        (issue,) = _issues(identify, payload).issues
        assert "'dec:FunctionCode'" in issue.message and DEC not in issue.message

    def test_unexpected_element_path_is_readable(self, identify: ProfileSelector) -> None:
        """libxml2's ``/md:MetaData/*[7]/*[3]`` becomes a path of local names."""
        payload = make_declaration(member="FJ", lrn="L", seed=6).replace(
            b"<TypeCode>IMA</TypeCode>", b"<Surprise/><TypeCode>IMA</TypeCode>", 1)
        issues = _issues(identify, payload).issues
        assert issues[0].code == "SCHEMAV_ELEMENT_CONTENT"
        assert issues[0].path == "/MetaData/Declaration/Surprise"

    def test_prefixed_documents_get_the_same_paths(self, identify: ProfileSelector) -> None:
        """A sender writing ``dec:`` prefixes instead of a default namespace gets the same element path."""
        root = etree.fromstring(make_declaration(member="FJ", lrn="LRN-P", items=2, seed=7))
        prefixed = etree.Element(root.tag, nsmap={"md": etree.QName(root).namespace, "dec": DEC,
                                                  "ds": "urn:wco:datamodel:WCO:DS-OCO:1"})
        prefixed.extend(root)
        payload = etree.tostring(prefixed).replace(b"LRN-P", b"P" * 40, 1)
        assert b"<dec:FunctionalReferenceID>" in payload
        (issue,) = _issues(identify, payload).issues
        assert issue.path == "/MetaData/Declaration/FunctionalReferenceID"


class TestElementPath:
    def test_positions_only_where_siblings_share_a_name(self) -> None:
        """Repeated elements get their 1-based position; unique ones none."""
        root = etree.fromstring("<a><b/><c><d/></c><c><d/><e/></c></a>")
        assert element_path(root[2][1]) == "/a/c[2]/e"
        assert element_path(root[0]) == "/a/b"
        assert element_path(root) == "/a"
