"""Compile a descriptor's XPath expressions once, failing at load (not per message) when one is unusable."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from lxml import etree

from gateway.errors import ProfileError

__all__ = ["boolean_xpath", "nodes_xpath", "string_xpath"]

_PROBE = etree.Element("probe")


def string_xpath(expr: str, namespaces: Mapping[str, str], *, key: str,
                 descriptor: Path) -> Callable[[etree._Element], str]:
    """Compile ``string(expr)``: the string value of the first node selected, or ``""``.

    Args:
        expr: the expression as written in the descriptor.
        namespaces: the descriptor's prefix map.
        key: where the expression sits in the descriptor (``routing.lrn``), for the error message.
        descriptor: the descriptor file, for the error message.

    Raises:
        ProfileError: the expression does not compile, or uses an undeclared prefix or unknown function.
    """
    return cast("Callable[[etree._Element], str]", _compile(f"string({expr})", expr, namespaces, key, descriptor))


def boolean_xpath(expr: str, namespaces: Mapping[str, str], *, key: str,
                  descriptor: Path) -> Callable[[etree._Element], bool]:
    """Compile ``boolean(expr)``: a condition. Arguments and errors as :func:`string_xpath`."""
    return cast("Callable[[etree._Element], bool]", _compile(f"boolean({expr})", expr, namespaces, key, descriptor))


def nodes_xpath(expr: str, namespaces: Mapping[str, str], *, key: str,
                descriptor: Path) -> Callable[[etree._Element], list[Any]]:
    """Compile a node-set expression. Arguments and errors as :func:`string_xpath`."""
    return cast("Callable[[etree._Element], list[Any]]", _compile(expr, expr, namespaces, key, descriptor))


def _compile(text: str, expr: str, namespaces: Mapping[str, str], key: str, descriptor: Path) -> etree.XPath:
    try:
        xpath = etree.XPath(text, namespaces=dict(namespaces), smart_strings=False)
        # Undeclared prefixes and unknown functions only show when evaluated: try it once on a probe.
        xpath(_PROBE)
    except etree.XPathError as exc:
        raise ProfileError(f"{descriptor}: {key}: {expr!r} is not a usable XPath 1.0 expression ({exc}); "
                           "use only the prefixes declared under `namespaces`") from exc
    return xpath
