"""Tests for gateway.pipeline.parse: size cap, DTD and entity attacks, well-formedness, depth."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.errors import Unreadable
from gateway.pipeline.context import Submission
from gateway.pipeline.parse import SafeParser
from gateway.responses import build_response
from gateway.samples import make_declaration

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"""


def _submit(payload: bytes) -> Submission:
    return Submission(payload=payload, participant="fj-broker", tracking_id="t-1")


def _reject(parser: SafeParser, payload: bytes) -> Unreadable:
    submission = _submit(payload)
    with pytest.raises(Unreadable) as info:
        parser(submission)
    assert submission.document is None
    return info.value


@pytest.fixture(scope="module")
def parser() -> SafeParser:
    return SafeParser(1_000_000)


class TestSafeParser:
    def test_declaration_is_parsed_into_its_root_element(self, parser: SafeParser) -> None:
        """A sample declaration becomes ``submission.document``, the MetaData root element."""
        submission = parser(_submit(make_declaration(member="FJ", lrn="LRN-1", seed=1)))
        assert submission.document.tag == "{urn:wco:datamodel:WCO:DocumentMetaData-OCO:1}MetaData"

    def test_billion_laughs_is_refused_quickly(self, parser: SafeParser) -> None:
        """Nested entity declarations are refused as a DTD, without expanding anything."""
        started = time.perf_counter()
        rejection = _reject(parser, BILLION_LAUGHS)
        assert time.perf_counter() - started < 10.0  # expanding it would take far longer (and gigabytes)
        assert [i.code for i in rejection.issues] == ["OCO-DTD-FORBIDDEN"]
        assert rejection.dead_letter and rejection.stage == "parse"

    def test_xxe_file_reference_never_reads_the_file(self, parser: SafeParser, tmp_path: Path) -> None:
        """An external entity naming a local file is refused, and the file's content appears nowhere."""
        secret = tmp_path / "secret.txt"
        secret.write_text("TOP-SECRET-42")
        evil = (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
                f"<r>&x;</r>").encode()
        rejection = _reject(parser, evil)
        assert [i.code for i in rejection.issues] == ["OCO-DTD-FORBIDDEN"]
        reply = build_response(status="rejected", tracking_id="t-1", lrn=None, member=None, issues=rejection.issues)
        assert "TOP-SECRET-42" not in str(rejection) + repr(rejection.issues)
        assert b"TOP-SECRET-42" not in reply

    @pytest.mark.parametrize("payload", [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><r>&x;</r>',
        b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/r.dtd"><r/>',
        b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>',
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><r/>',
        b'<?xml version="1.0"?><!DOCTYPE r><r/>',
    ], ids=["xxe-http", "external-dtd-http", "external-dtd-file", "parameter-entity", "bare-doctype"])
    def test_any_doctype_is_refused(self, parser: SafeParser, payload: bytes) -> None:
        """Every form of DOCTYPE (external DTD, network entity, parameter entity, empty) is refused."""
        assert [i.code for i in _reject(parser, payload).issues] == ["OCO-DTD-FORBIDDEN"]

    def test_doctype_in_utf16_is_refused(self, parser: SafeParser) -> None:
        """A DOCTYPE hidden by a non-ASCII encoding is still seen, since the check reads the parsed tree."""
        payload = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'.encode("utf-16")
        assert [i.code for i in _reject(parser, payload).issues] == ["OCO-DTD-FORBIDDEN"]

    def test_payload_at_the_limit_passes_and_one_byte_more_is_refused(self) -> None:
        """The size cap is inclusive, and checked before parsing."""
        body = b"<r>" + b"x" * 93 + b"</r>"
        assert len(body) == 100
        assert SafeParser(100)(_submit(body)).document is not None
        rejection = _reject(SafeParser(99), body)
        assert [i.code for i in rejection.issues] == ["OCO-TOO-LARGE"]
        assert "100 bytes" in rejection.issues[0].message

    def test_truncated_document_is_refused_with_its_line(self, parser: SafeParser) -> None:
        """A declaration cut short is not well-formed; the issue carries libxml2's message and a line."""
        payload = make_declaration(member="FJ", lrn="LRN-CUT", items=3, seed=2)
        cut = payload[: len(payload) // 2]
        (issue,) = _reject(parser, cut).issues
        assert issue.code == "OCO-NOT-WELL-FORMED"
        assert issue.line is not None and issue.line > 10
        assert "not well-formed XML:" in issue.message and len(issue.message) > len("not well-formed XML: ")

    @pytest.mark.parametrize("payload", [b"", b"not xml", b"<a><b></a>", b"<a>&undefined;</a>"],
                             ids=["empty", "text", "mismatched", "undefined-entity"])
    def test_malformed_inputs_are_refused(self, parser: SafeParser, payload: bytes) -> None:
        """Empty, non-XML, mismatched tags and undeclared entities are all not well-formed."""
        assert [i.code for i in _reject(parser, payload).issues] == ["OCO-NOT-WELL-FORMED"]

    def test_libxml2_caps_depth_at_256(self, parser: SafeParser) -> None:
        """Without huge_tree, nesting beyond libxml2's 256 levels is refused at parse time."""
        payload = b"<a>" * 300 + b"</a>" * 300
        assert [i.code for i in _reject(parser, payload).issues] == ["OCO-NOT-WELL-FORMED"]

    def test_max_depth_when_set_refuses_deeper_documents(self) -> None:
        """With max_depth=5 a 6-level document is refused and a 5-level one passes."""
        strict = SafeParser(10_000, max_depth=5)
        assert strict(_submit(b"<a>" * 5 + b"</a>" * 5)).document is not None
        assert [i.code for i in _reject(strict, b"<a>" * 6 + b"</a>" * 6).issues] == ["OCO-TOO-DEEP"]

    def test_depth_check_is_off_by_default(self, parser: SafeParser) -> None:
        """By default only libxml2's own cap applies: 200 levels parse."""
        assert parser(_submit(b"<a>" * 200 + b"</a>" * 200)).document is not None

    @pytest.mark.parametrize("kwargs", [{"max_bytes": 0}, {"max_bytes": 10, "max_depth": 0},
                                        {"max_bytes": 10, "max_depth": 300}])
    def test_nonsense_limits_are_refused(self, kwargs: dict[str, int]) -> None:
        """A zero size cap or a depth outside 1..255 is a configuration error."""
        with pytest.raises(ValueError):
            SafeParser(**kwargs)
