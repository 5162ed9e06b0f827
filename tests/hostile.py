"""Hostile and pathological submissions, shared by the hostile-input tests on the real broker and the fuzz run.

Each builder returns bytes (or None: a tombstone). Sizes are given so a test can aim just under or just over a
limit; ``pad_to`` grows a valid declaration to an exact size with an XML comment, which keeps it valid.
"""

from __future__ import annotations

import itertools
import random
import string
from collections.abc import Iterator

from gateway.responses import build_response
from gateway.samples import make_declaration

__all__ = [
    "DMS_NAMESPACES",
    "attribute_flood",
    "billion_laughs",
    "deep_nesting",
    "declaration",
    "huge_attribute",
    "huge_text",
    "invalid_utf8",
    "lying_encoding_latin1",
    "lying_encoding_utf16",
    "many_item_errors",
    "missing_namespace",
    "other_profile",
    "pad_to",
    "parameter_entities",
    "random_binary",
    "response_as_declaration",
    "utf16",
    "wrong_namespace",
    "xxe_file",
    "xxe_network",
]

DMS_NAMESPACES = {
    b"urn:wco:datamodel:WCO:DocumentMetaData-OCO:1": b"urn:wco:datamodel:WCO:DocumentMetaData-DMS:2",
    b"urn:wco:datamodel:WCO:DEC-OCO:1": b"urn:wco:datamodel:WCO:DEC-DMS:2",
}


def declaration(lrn: str = "LRN-HOSTILE", member: str = "FJ", items: int = 1, seed: int = 7) -> bytes:
    """A valid OCO declaration."""
    return make_declaration(member=member, lrn=lrn, items=items, seed=seed)


def pad_to(document: bytes, size: int) -> bytes:
    """Grow a document to exactly ``size`` bytes with a comment after the root element (still valid)."""
    room = size - len(document) - len(b"<!---->")
    if room < 0:
        raise ValueError(f"the document is already {len(document)} bytes, more than {size}")
    return document + b"<!--" + b"x" * room + b"-->"


def billion_laughs(levels: int = 10) -> bytes:
    """The classic entity expansion bomb (10^levels 'lol's if anything expanded it)."""
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">'
                                           for i in range(1, levels)]
    return (f'<?xml version="1.0"?><!DOCTYPE lolz [{"".join(entities)}]><lolz>&lol{levels - 1};</lolz>').encode()


def xxe_file(path: str = "/etc/passwd") -> bytes:
    """An external entity reading a local file into the document."""
    return (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{path}">]><r>&x;</r>').encode()


def xxe_network(url: str) -> bytes:
    """An external entity, an external DTD and a parameter entity, all fetched from ``url`` if anything fetched."""
    return (f'<?xml version="1.0"?><!DOCTYPE r SYSTEM "{url}/ext.dtd" [<!ENTITY x SYSTEM "{url}/x">]>'
            f'<r>&x;</r>').encode()


def parameter_entities(url: str) -> bytes:
    """Parameter entities (the out-of-band XXE pattern) inside the internal subset."""
    return (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % remote SYSTEM "{url}/evil.dtd"> %remote; '
            f'<!ENTITY % local "<!ENTITY inner \'x\'>"> %local;]><r>&inner;</r>').encode()


def deep_nesting(depth: int = 100_000) -> bytes:
    """Elements nested ``depth`` levels deep."""
    return b"<a>" * depth + b"</a>" * depth


def huge_attribute(size: int) -> bytes:
    """A valid declaration whose Declaration element carries one attribute of about ``size`` bytes."""
    doc = declaration("LRN-HUGE-ATTR")
    return doc.replace(b"<Declaration>", b'<Declaration big="' + b"a" * size + b'">', 1)


def huge_text(size: int) -> bytes:
    """A declaration whose LRN is a text node of ``size`` characters."""
    return declaration("LRN-HUGE-TEXT").replace(b"LRN-HUGE-TEXT", b"L" * size, 1)


def _names() -> Iterator[str]:
    for length in itertools.count(1):
        for letters in itertools.product(string.ascii_letters, repeat=length):
            yield "".join(letters)


def attribute_flood(size: int, errors: int | None = None) -> bytes:
    """A declaration whose Declaration element carries as many undeclared attributes as fit ``size`` bytes
    (or exactly ``errors`` of them): one schema error per attribute, about 7 bytes each."""
    doc = declaration("LRN-FLOOD")
    parts: list[bytes] = []
    total = len(doc)
    for name in _names():
        attribute = f' {name}=""'.encode()
        if (errors is not None and len(parts) >= errors) or (errors is None and total + len(attribute) > size):
            break
        parts.append(attribute)
        total += len(attribute)
    return doc.replace(b"<Declaration>", b"<Declaration" + b"".join(parts) + b">", 1)


def many_item_errors(errors: int = 50_000) -> bytes:
    """999 goods items, each with undeclared attributes and a bad sequence number: at least ``errors`` schema
    errors spread over 999 siblings (the case whose element paths were quadratic)."""
    doc = declaration("LRN-ITEMS", items=1)
    start = doc.index(b"<GovernmentAgencyGoodsItem>")
    end = doc.index(b"</GovernmentAgencyGoodsItem>") + len(b"</GovernmentAgencyGoodsItem>")
    per_item = max(0, -(-errors // 999) - 1)  # at least ``errors`` in all
    attributes = b"".join(b' a%d=""' % i for i in range(per_item))
    item = doc[start:end].replace(b"<SequenceNumeric>1<", b"<SequenceNumeric>x<").replace(
        b"<GovernmentAgencyGoodsItem>", b"<GovernmentAgencyGoodsItem" + attributes + b">")
    return doc[:start] + item * 999 + doc[end:]


def invalid_utf8() -> bytes:
    """A declaration with bytes that are not UTF-8 in a text node."""
    return declaration("LRN-BAD-UTF8").replace(b"LRN-BAD-UTF8", b"LRN-\xff\xfe\xc3\x28", 1)


def utf16(bom: bool) -> bytes:
    """A valid declaration encoded in UTF-16 (little endian), with or without a byte order mark."""
    text = declaration("LRN-UTF16").decode().replace("encoding='UTF-8'", "encoding='UTF-16'")
    data = text.encode("utf-16-le")
    return (b"\xff\xfe" + data) if bom else data


def lying_encoding_latin1() -> bytes:
    """UTF-8 bytes (a non-ASCII name) under a declaration claiming ISO-8859-1: parsed as mojibake."""
    doc = declaration("LRN-LATIN1").replace(b"encoding='UTF-8'", b"encoding='ISO-8859-1'")
    return doc.replace(b"LRN-LATIN1", "LRN-ÅÉÎ".encode(), 1)


def lying_encoding_utf16() -> bytes:
    """UTF-8 bytes under a declaration claiming UTF-16."""
    return declaration("LRN-LIE16").replace(b"encoding='UTF-8'", b"encoding='UTF-16'")


def random_binary(size: int = 65_536, seed: int = 1) -> bytes:
    """Random bytes."""
    return random.Random(seed).randbytes(size)


def wrong_namespace() -> bytes:
    """A declaration whose DEC namespace is misspelt."""
    return declaration("LRN-WRONG-NS").replace(b"urn:wco:datamodel:WCO:DEC-OCO:1", b"urn:wco:datamodel:WCO:DEC-0C0:1")


def missing_namespace() -> bytes:
    """A declaration without any namespace."""
    doc = declaration("LRN-NO-NS")
    for uri in (b"urn:wco:datamodel:WCO:DocumentMetaData-OCO:1", b"urn:wco:datamodel:WCO:DEC-OCO:1",
                b"urn:wco:datamodel:WCO:DS-OCO:1"):
        doc = doc.replace(b' xmlns="' + uri + b'"', b"")
    for prefix in (b"md", b"ds"):
        doc = doc.replace(b" xmlns:" + prefix + b'="', b' data-' + prefix + b'="')
        doc = doc.replace(b"<" + prefix + b":", b"<").replace(b"</" + prefix + b":", b"</")
    return doc


def other_profile() -> bytes:
    """A declaration written for UK HMRC's DMS profile (not loaded by the network's gateway)."""
    doc = declaration("LRN-DMS")
    for ours, theirs in DMS_NAMESPACES.items():
        doc = doc.replace(ours, theirs)
    return doc


def response_as_declaration() -> bytes:
    """A valid OCO Response (another document type of the same profile) submitted as a declaration."""
    return build_response(status="accepted", tracking_id="not-a-declaration", lrn="LRN-RES", member="FJ")
