"""Turn libxml2 schema errors into Issues a submitter can act on: readable element paths and names.

Bounded work whatever the document: at most ``limit`` errors are converted (the rest are only counted,
and named by one last ``OCO-ERRORS-TRUNCATED`` Issue), messages are cut to a readable length, and element
paths are resolved with per-element caches, so 50,000 errors among 50,000 siblings cost what 100 do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from lxml import etree

from gateway.errors import Issue, truncated_issue

__all__ = ["DEFAULT_MAX_ERRORS", "MESSAGE_CHARS", "element_path", "schema_issues"]

DEFAULT_MAX_ERRORS = 100
"""Schema errors listed in a rejection unless ``gateway.max_schema_errors`` says otherwise."""
MESSAGE_CHARS = 1000
"""Longest Issue message kept (a libxml2 message quotes the faulty value, which may be megabytes)."""

_STEP = re.compile(r"^(?:(\*)|(?:([^:\[\]]+):)?([^:\[\]]+))(?:\[(\d+)\])?$")
_CLARK = re.compile(r"\{([^{}]*)\}")


def schema_issues(log: etree._ListErrorLog, root: etree._Element, prefixes: Mapping[str, str],
                  limit: int = DEFAULT_MAX_ERRORS) -> list[Issue]:
    """Convert a schema validation error log; runs only for invalid documents.

    Args:
        log: the schema's error log after a failed validation.
        root: the validated root element, to resolve libxml2's paths against.
        prefixes: namespace URI → descriptor prefix, to shorten names in messages.
        limit: errors converted; when the log holds more, the list ends with :func:`truncated_issue`.
    """
    def short(match: re.Match[str]) -> str:
        prefix = prefixes.get(match.group(1))
        return f"{prefix}:" if prefix else match.group(0)

    paths = _Paths(root)
    total = len(log)
    issues = []
    for entry in log[:limit] if total > limit else log:
        message = entry.message
        if len(message) > MESSAGE_CHARS * 2:  # quoting a huge value: keep the start, whatever it is
            message = message[: MESSAGE_CHARS * 2]
        message = _CLARK.sub(short, message.strip())
        if len(message) > MESSAGE_CHARS:
            message = message[: MESSAGE_CHARS - 1] + "…"
        raw_path = entry.path
        issues.append(Issue(
            code=entry.type_name,
            message=message,
            line=entry.line or None,
            path=(paths.readable(raw_path) or raw_path[:MESSAGE_CHARS]) if raw_path else None,
        ))
    if total > limit:
        issues.append(truncated_issue(limit, total))
    return issues


def element_path(element: etree._Element) -> str:
    """Return ``/MetaData/Declaration/GoodsShipment/GovernmentAgencyGoodsItem[2]/Commodity``-style paths.

    Local names only, with a position where an element has same-named siblings: short enough to read in a
    rejection, precise enough to find the element.

    Args:
        element: any element of a parsed document.
    """
    return _Paths(element.getroottree().getroot()).of(element)


class _Paths:
    """Element paths of one document, each parent's children indexed once (linear in the document)."""

    def __init__(self, root: etree._Element) -> None:
        self._root = root
        self._positions: dict[etree._Element, dict[etree._Element, str]] = {}
        self._children: dict[etree._Element, list[etree._Element]] = {}
        self._by_name: dict[etree._Element, dict[tuple[str | None, str], list[etree._Element]]] = {}

    def readable(self, libxml2_path: str) -> str | None:
        element = self._resolve(libxml2_path)
        return self.of(element) if element is not None else None

    def of(self, element: etree._Element) -> str:
        steps = []
        node: etree._Element | None = element
        while node is not None:
            parent = node.getparent()
            steps.append(self._step(parent, node) if parent is not None else etree.QName(node).localname)
            node = parent
        return "/" + "/".join(reversed(steps))

    def _step(self, parent: etree._Element, node: etree._Element) -> str:
        names = self._positions.get(parent)
        if names is None:
            counts: dict[str, int] = {}
            for child in self._elements(parent):
                counts[child.tag] = counts.get(child.tag, 0) + 1
            seen: dict[str, int] = {}
            names = {}
            for child in self._elements(parent):
                local = etree.QName(child).localname
                if counts[child.tag] > 1:
                    seen[child.tag] = seen.get(child.tag, 0) + 1
                    local = f"{local}[{seen[child.tag]}]"
                names[child] = local
            self._positions[parent] = names
        return names.get(node) or etree.QName(node).localname

    def _elements(self, node: etree._Element) -> list[etree._Element]:
        found = self._children.get(node)
        if found is None:
            found = self._children[node] = [c for c in node if isinstance(c.tag, str)]
        return found

    def _resolve(self, path: str) -> etree._Element | None:
        # libxml2 writes ``/md:MetaData/*[6]/*[9]``: ``*[n]`` for elements in a default namespace, prefixes as
        # found in the document. Walk it step by step; give up (and keep libxml2's path) on anything else.
        steps = path.split("/")
        if len(steps) < 2 or steps[0] != "" or len(steps) > 300:
            return None
        node = self._root
        for i, step in enumerate(steps[1:]):
            match = _STEP.match(step)
            if match is None:
                return None
            star, prefix, local, index = match.groups()
            if i == 0:
                continue  # the root itself
            children = self._elements(node)
            position = int(index) - 1 if index else 0
            if star:
                if not 0 <= position < len(children):
                    return None
                node = children[position]
                continue
            named = self._named(node).get((prefix, local), ())
            if not 0 <= position < len(named):
                return None
            node = named[position]
        return node

    def _named(self, node: etree._Element) -> dict[tuple[str | None, str], list[etree._Element]]:
        found = self._by_name.get(node)
        if found is None:
            found = self._by_name[node] = {}
            for child in self._elements(node):
                found.setdefault((child.prefix, etree.QName(child).localname), []).append(child)
        return found
