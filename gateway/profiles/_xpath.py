"""Compile a descriptor's XPath expressions once, failing at load (not per message) when one is unusable."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lxml import etree

from gateway.errors import ProfileError

__all__ = ["compile_xpath"]

_PROBE = etree.Element("probe")


def compile_xpath(expr: str, namespaces: Mapping[str, str], *, key: str, descriptor: Path,
                  wrap: str = "") -> etree.XPath:
    """Compile one expression, optionally wrapped in an XPath function (``string``, ``boolean``).

    Args:
        expr: the expression as written in the descriptor.
        namespaces: the descriptor's prefix map.
        key: where the expression sits in the descriptor (``routing.lrn``), for the error message.
        descriptor: the descriptor file, for the error message.
        wrap: XPath function to wrap the expression in, so evaluation yields a plain value.

    Raises:
        ProfileError: the expression does not compile, or uses an undeclared prefix or unknown function.
    """
    text = f"{wrap}({expr})" if wrap else expr
    try:
        xpath = etree.XPath(text, namespaces=dict(namespaces), smart_strings=False)
        # Undeclared prefixes and unknown functions only show when evaluated: try it once on a probe.
        xpath(_PROBE)
    except etree.XPathError as exc:
        raise ProfileError(f"{descriptor}: {key}: {expr!r} is not a usable XPath 1.0 expression ({exc}); "
                           "use only the prefixes declared under `namespaces`") from exc
    return xpath
