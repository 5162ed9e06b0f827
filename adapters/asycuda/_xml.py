"""A safe XML reader for documents that come from outside (no DTDs, entities or network)."""

from __future__ import annotations

from lxml import etree

__all__ = ["XMLError", "child_text", "parse_xml"]

XMLError = etree.XMLSyntaxError
"""Raised by :func:`parse_xml`; callers translate it where they call it."""


def parse_xml(data: bytes) -> etree._Element:
    """Parse ``data`` with entity expansion, DTD loading and network access off.

    Args:
        data: the document.

    Raises:
        XMLError: not well-formed, or empty.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    return etree.fromstring(data, parser)


def child_text(element: etree._Element | None, path: str) -> str:
    """Return the stripped text at ``path`` under ``element``; '' when missing, empty or ``<null/>``.

    Args:
        element: where to look from (None gives '').
        path: an ElementPath such as ``Identification/Registration/Number``.
    """
    if element is None:
        return ""
    found = element.find(path)
    if found is None or found.text is None:
        return ""
    return found.text.strip()
