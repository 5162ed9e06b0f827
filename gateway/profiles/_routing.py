"""Read a declaration's routing fields with XPaths compiled once from the descriptor."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lxml import etree

from gateway.errors import Issue, Unidentified
from gateway.routing import AeoHolder, RoutingFields
from gateway.profiles._xpath import nodes_xpath, string_xpath
from gateway.profiles.descriptor import RoutingPaths

__all__ = ["MAX_FIELD_CHARS", "RoutingReader"]

_REQUIRED = ("member", "lrn", "function_code")
MAX_FIELD_CHARS = 256
"""Longest routing value accepted: they become the record key and headers of every output, whatever the XSD."""
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_OPTIONAL = ("type_code", "declarant", "representative", "declaration_id")


class RoutingReader:
    """Extract :class:`RoutingFields` from a root element.

    Args:
        paths: the descriptor's routing paths.
        namespaces: the descriptor's prefix map.
        descriptor: the descriptor file, for load errors.

    Raises:
        ProfileError: a path is not a usable XPath.
    """

    def __init__(self, paths: RoutingPaths, namespaces: Mapping[str, str], descriptor: Path) -> None:
        def scalar(name: str, expr: str) -> Callable[[etree._Element], str]:
            return string_xpath(expr, namespaces, key=f"routing.{name}", descriptor=descriptor)

        self._paths = paths
        self._fields = [(name, scalar(name, getattr(paths, name)), True) for name in _REQUIRED]
        self._fields += [(name, scalar(name, getattr(paths, name)), False)
                         for name in _OPTIONAL if getattr(paths, name)]
        self._aeo: tuple[Callable[[etree._Element], list[Any]], Callable[[etree._Element], str],
                         Callable[[etree._Element], str]] | None = None
        if paths.aeo_holders is not None:
            a = paths.aeo_holders
            self._aeo = (
                nodes_xpath(a.path, namespaces, key="routing.aeo_holders.path", descriptor=descriptor),
                scalar("aeo_holders.id", a.id),
                scalar("aeo_holders.category", a.category),
            )

    def __call__(self, root: etree._Element) -> RoutingFields:
        """Return the routing fields of one declaration.

        Args:
            root: the document's root element.

        Raises:
            Unidentified: member, LRN or function code is missing or empty (code OCO-MISSING-ROUTING-FIELD), or a
                routing value is over :data:`MAX_FIELD_CHARS` or holds control characters
                (OCO-INVALID-ROUTING-FIELD).
        """
        values: dict[str, object] = {}
        missing = []
        for name, xpath, required in self._fields:
            value = xpath(root).strip()
            if len(value) > MAX_FIELD_CHARS or _CONTROL.search(value):
                missing.append(Issue(
                    code="OCO-INVALID-ROUTING-FIELD",
                    message=f"the declaration's {name.replace('_', ' ')} ({getattr(self._paths, name)}) is "
                            f"{len(value)} characters long or holds control characters; routing fields are at "
                            f"most {MAX_FIELD_CHARS} printable characters",
                    path=getattr(self._paths, name),
                ))
            elif value:
                values[name] = value
            elif required:
                missing.append(Issue(
                    code="OCO-MISSING-ROUTING-FIELD",
                    message=f"the declaration has no {name.replace('_', ' ')} ({getattr(self._paths, name)}); "
                            "the gateway cannot route it without one",
                    path=getattr(self._paths, name),
                ))
        if missing:
            raise Unidentified(missing, stage="extract")
        if self._aeo is not None:
            nodes, trader, category = self._aeo
            values["aeo_holders"] = tuple(
                AeoHolder(trader_id=trader(node).strip(), category=category(node).strip())
                for node in nodes(root)
                if isinstance(node, etree._Element)
            )
        return RoutingFields(**values)  # type: ignore[arg-type]
