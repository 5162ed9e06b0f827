"""Turn libxml2 schema errors into Issues a submitter can act on: readable element paths and names."""

from __future__ import annotations

import re
from collections.abc import Mapping

from lxml import etree

from gateway.errors import Issue

__all__ = ["element_path", "schema_issues"]

_STEP = re.compile(r"^(?:(\*)|(?:([^:\[\]]+):)?([^:\[\]]+))(?:\[(\d+)\])?$")
_CLARK = re.compile(r"\{([^{}]*)\}")


def schema_issues(log: etree._ListErrorLog, root: etree._Element, prefixes: Mapping[str, str]) -> list[Issue]:
    """Convert a schema validation error log; runs only for invalid documents.

    Args:
        log: the schema's error log after a failed validation.
        root: the validated root element, to resolve libxml2's paths against.
        prefixes: namespace URI → descriptor prefix, to shorten names in messages.
    """
    def short(match: re.Match[str]) -> str:
        prefix = prefixes.get(match.group(1))
        return f"{prefix}:" if prefix else match.group(0)

    issues = []
    for entry in log:
        element = _resolve(root, entry.path) if entry.path else None
        issues.append(Issue(
            code=entry.type_name,
            message=_CLARK.sub(short, entry.message.strip()),
            line=entry.line or None,
            path=element_path(element) if element is not None else entry.path or None,
        ))
    return issues


def element_path(element: etree._Element) -> str:
    """Return ``/MetaData/Declaration/GoodsShipment/GovernmentAgencyGoodsItem[2]/Commodity``-style paths.

    Local names only, with a position where an element has same-named siblings: short enough to read in a
    rejection, precise enough to find the element.

    Args:
        element: any element of a parsed document.
    """
    steps = []
    node: etree._Element | None = element
    while node is not None:
        parent = node.getparent()
        name = etree.QName(node).localname
        if parent is not None:
            same = list(parent.iterchildren(node.tag))
            if len(same) > 1:
                name = f"{name}[{same.index(node) + 1}]"
        steps.append(name)
        node = parent
    return "/" + "/".join(reversed(steps))


def _resolve(root: etree._Element, path: str) -> etree._Element | None:
    # libxml2 writes ``/md:MetaData/*[6]/*[9]``: ``*[n]`` for elements in a default namespace, prefixes as
    # found in the document. Walk it step by step; give up (and keep libxml2's path) on anything else.
    steps = path.split("/")
    if len(steps) < 2 or steps[0] != "":
        return None
    node = root
    for i, step in enumerate(steps[1:]):
        match = _STEP.match(step)
        if match is None:
            return None
        star, prefix, local, index = match.groups()
        if i == 0:
            continue  # the root itself
        if star:
            candidates = [c for c in node if isinstance(c.tag, str)]
        else:
            candidates = [c for c in node if isinstance(c.tag, str) and c.prefix == prefix
                          and etree.QName(c).localname == local]
        position = int(index) - 1 if index else 0
        if not 0 <= position < len(candidates):
            return None
        node = candidates[position]
    return node
