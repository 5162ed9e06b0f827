"""Property-based fuzzing of parse, identify, validate, extract (and the rest of the pipeline) and plan_outputs.

For any bytes, the pipeline must not crash (a stage that raises shows as ``StageFailed``, which counts as a
crash here), must not hang, and must end with an outcome: exactly one readable reply, the declaration itself
delivered when it passed, a dead letter when the rejection says so, and every output small enough for a
Kafka record. Inputs: arbitrary bytes, mutations of a valid declaration (byte flips, cuts, splices of XML
syntax, namespace and encoding changes), generated element trees in the OCO namespaces, and the hostile
corpus of ``tests/hostile.py``.

``make fuzz`` runs the same properties for much longer (``HYPOTHESIS_PROFILE=long``).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from gateway.config import LimitsSettings, load_settings
from gateway.errors import StageFailed
from gateway.pipeline.chain import Pipeline, build_stages
from gateway.pipeline.context import SourceRef, Submission
from gateway.pipeline.route import record_size
from gateway.profiles import ProfileRegistry
from gateway.responses import read_response
from gateway.topics import DEAD_LETTER
from tests import hostile as H

REPO = Path(__file__).resolve().parents[2]
LIMITS = LimitsSettings(max_message_bytes=256 * 1024)  # small inputs: many of them per second
PER_INPUT_SECONDS = 5.0
VALID = H.declaration("LRN-FUZZ", member="FJ", items=3, seed=11)
MD, DEC, DS = (b"urn:wco:datamodel:WCO:DocumentMetaData-OCO:1", b"urn:wco:datamodel:WCO:DEC-OCO:1",
               b"urn:wco:datamodel:WCO:DS-OCO:1")
SNIPPETS = [b"<", b">", b"</", b"/>", b"&", b"&amp;", b"&#0;", b"&#x110000;", b"&x;", b"<!DOCTYPE r>", b"<!ENTITY x 'y'>",
            b"<![CDATA[", b"]]>", b"<!--", b"-->", b"<?pi x?>", b"<?xml version='1.0'?>", b"\x00", b"\xff\xfe",
            b"\xef\xbb\xbf", b"\xc3\x28", b'xmlns="urn:x"', b'xmlns:md="urn:y"', b' a="1"', b" a='", b"\r\n", b"\t",
            b"<Declaration>", b"</Declaration>", b"<FunctionalReferenceID>", b"\xe6\x9d\xb1\xe4\xba\xac", MD, DEC, DS,
            b"<md:ResponsibleCountryCode>ZZ</md:ResponsibleCountryCode>", b"<FunctionCode>13</FunctionCode>"]


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    settings = load_settings(REPO / "config" / "network.yaml")
    settings = settings.model_copy(update={"gateway": LIMITS})
    return Pipeline(build_stages(settings, ProfileRegistry.load([REPO / "schemas"])), LIMITS)


def check(pipeline: Pipeline, payload: bytes) -> None:
    """The properties every input must have."""
    submission = Submission(payload=payload, participant="fj-post", tracking_id="fuzz-1",
                            source=SourceRef("oco.submit.fj-post", 0, 7))
    started = time.perf_counter()
    outputs, rejection = pipeline(submission)
    took = time.perf_counter() - started
    assert took < PER_INPUT_SECONDS, f"{took:.1f} s for {len(payload)} bytes"
    assert not isinstance(rejection, StageFailed), f"stage {rejection.stage} crashed: {rejection.__cause__!r}"
    replies = [o for o in outputs if o.topic == "oco.reply.fj-post"]
    assert len(replies) == 1
    summary = read_response(replies[0].value)
    assert summary.tracking_id == "fuzz-1"
    assert all(record_size(o) <= LIMITS.max_record_bytes for o in outputs)
    if rejection is None:
        assert summary.status == "received"
        delivered = [o for o in outputs if o.topic.startswith("oco.deliver.")]
        assert len(delivered) == 1 and delivered[0].value == payload
    else:
        assert summary.status == "rejected" and summary.issues
        assert all(i.code for i in summary.issues)
        assert any(o.topic == DEAD_LETTER for o in outputs) == rejection.dead_letter


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid declaration, then a few edits: flips, cuts, duplications, XML syntax spliced in."""
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete", "duplicate", "replace"]))
        at = draw(st.integers(0, len(data)))
        if kind == "flip" and data:
            at = min(at, len(data) - 1)
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            data = data[:at]
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from(SNIPPETS) | st.binary(max_size=16))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 64))]
        elif kind == "duplicate":
            end = min(len(data), at + draw(st.integers(1, 400)))
            data[at:at] = data[at:end] * draw(st.integers(1, 20))
        else:
            old = draw(st.sampled_from([b"FJ", b"LRN-FUZZ", b"9", b"IMA", MD, DEC, DS, b"UTF-8", b"3.6"]))
            data = bytearray(bytes(data).replace(old, draw(st.sampled_from(SNIPPETS) | st.binary(max_size=8)), 1))
    return bytes(data)


_XML_CHARS = st.characters(blacklist_categories=["Cs", "Cc"]) | st.sampled_from("\t\n\r")
_VALUES = st.one_of(
    st.text(_XML_CHARS, max_size=50), st.text(st.characters(min_codepoint=0x80, blacklist_categories=["Cs", "Cc"]),
                                              max_size=40),
    st.sampled_from(["", " ", "9", "13", "FJ", "WS", "NZ", "ZZ", "fj", "IMA", "EXA", "3.6", "4.0", "FJ0012345", "AEOF",
                     "AEOX", "-1", "1e309", "NaN", "L" * 36, "L" * 300, "Ñandú-東京-Ω", "a\tb", "20260101120000Z"]))


@st.composite
def tree_mutated(draw: st.DrawFn) -> bytes:
    """A valid declaration edited as a tree: values, attributes, elements removed, repeated or moved; mostly
    still well-formed, so validate, extract, authorize and recognise see it too."""
    root = etree.fromstring(VALID)
    elements = list(root.iter())
    for _ in range(draw(st.integers(1, 5))):
        element = elements[draw(st.integers(0, len(elements) - 1))]
        kind = draw(st.sampled_from(["text", "text", "attribute", "remove", "repeat", "move", "rename"]))
        parent = element.getparent()
        if kind == "text":
            element.text = draw(_VALUES)
        elif kind == "attribute":
            element.set(draw(st.sampled_from(["a", "currencyID", "unitCode", "schemeID", "formatCode"])), draw(_VALUES))
        elif kind == "remove" and parent is not None:
            parent.remove(element)
            elements = list(root.iter())
        elif kind == "repeat" and parent is not None:
            for _ in range(draw(st.integers(1, 150))):
                parent.append(copy.deepcopy(element))
            elements = list(root.iter())
        elif kind == "move" and parent is not None:
            target = elements[draw(st.integers(0, len(elements) - 1))]
            if element not in target.iterancestors() and target is not element:
                target.append(element)
                elements = list(root.iter())
        elif kind == "rename":
            element.tag = draw(st.sampled_from([f"{{{DEC.decode()}}}X", f"{{{MD.decode()}}}Declaration", "Declaration",
                                                f"{{{DEC.decode()}}}FunctionCode", f"{{{DS.decode()}}}DateTimeString"]))
    encoding = draw(st.sampled_from(["UTF-8", "UTF-8", "UTF-16", "ISO-8859-1", "ASCII"]))
    return etree.tostring(root, xml_declaration=True, encoding=encoding)


_NAMES = st.sampled_from(["Declaration", "FunctionCode", "FunctionalReferenceID", "TypeCode", "GoodsShipment",
                          "GovernmentAgencyGoodsItem", "SequenceNumeric", "AuthorisationHolder", "ID", "CategoryCode",
                          "md:ResponsibleCountryCode", "md:WCODataModelVersionCode", "md:WCOTypeName", "x", "ds:Z"])
_TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="<&\x00"), max_size=40)


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    attrs = st.lists(st.tuples(st.sampled_from(["a", "currencyID", "unitCode", "schemeID"]), _TEXT.map(
        lambda t: t.replace('"', "'"))), max_size=3, unique_by=lambda a: a[0])
    return st.builds(lambda name, at, body: f"<{name}{''.join(f' {k}={v!r}'.replace(chr(39), chr(34)) for k, v in at)}>"
                     f"{''.join(body)}</{name}>", _NAMES, attrs, st.lists(children | _TEXT, max_size=5))


@st.composite
def generated(draw: st.DrawFn) -> bytes:
    """A document in the OCO namespaces, with an element tree drawn at random below MetaData."""
    body = draw(st.recursive(_TEXT, _element, max_leaves=30))
    if draw(st.booleans()):
        body = f"<Declaration>{body}</Declaration>"
    head = draw(st.sampled_from(["", "<md:WCODataModelVersionCode>3.6</md:WCODataModelVersionCode>"
                                     "<md:WCOTypeName>DEC</md:WCOTypeName>"
                                     "<md:ResponsibleCountryCode>FJ</md:ResponsibleCountryCode>"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "iso-8859-1"]))
    text = (f"<?xml version='1.0' encoding='{encoding}'?><md:MetaData xmlns:md='{MD.decode()}' "
            f"xmlns='{DEC.decode()}' xmlns:ds='{DS.decode()}'>{head}{body}</md:MetaData>")
    return text.encode(encoding, errors="replace")


class TestPipelineFuzz:
    @given(st.binary(max_size=4096))
    def test_arbitrary_bytes(self, pipeline: Pipeline, payload: bytes) -> None:
        check(pipeline, payload)

    @given(mutated())
    def test_mutated_declarations(self, pipeline: Pipeline, payload: bytes) -> None:
        check(pipeline, payload)

    @given(tree_mutated())
    def test_declarations_edited_as_trees(self, pipeline: Pipeline, payload: bytes) -> None:
        check(pipeline, payload)

    @given(generated())
    def test_generated_documents(self, pipeline: Pipeline, payload: bytes) -> None:
        check(pipeline, payload)

    @given(st.sampled_from([
        H.billion_laughs(), H.xxe_file(), H.xxe_network("http://127.0.0.1:9"), H.parameter_entities("http://127.0.0.1:9"),
        H.deep_nesting(100_000), H.huge_attribute(200_000), H.huge_text(200_000), H.attribute_flood(250_000),
        H.many_item_errors(5_000), H.invalid_utf8(), H.utf16(True), H.utf16(False), H.lying_encoding_latin1(),
        H.lying_encoding_utf16(), b"", H.random_binary(4096), H.wrong_namespace(), H.missing_namespace(),
        H.other_profile(), H.response_as_declaration(), H.pad_to(VALID, LIMITS.max_message_bytes),
        H.pad_to(VALID, LIMITS.max_message_bytes + 1)]), mutated())
    def test_hostile_corpus_and_splices(self, pipeline: Pipeline, hostile: bytes, mutation: bytes) -> None:
        """Each hostile input, alone and spliced into a mutated declaration."""
        check(pipeline, hostile)
        cut = len(mutation) // 2
        check(pipeline, mutation[:cut] + hostile[:2000] + mutation[cut:])
