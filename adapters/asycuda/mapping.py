"""WCO DM declaration to ASYCUDA World XML, by the XSLT stylesheet ``wco_to_asycuda.xsl``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from adapters.asycuda._xml import XMLError, parse_xml

__all__ = ["AsycudaMapping", "Mapped", "MappingError", "STYLESHEET"]

STYLESHEET = Path(__file__).with_name("wco_to_asycuda.xsl")


@dataclass(frozen=True, slots=True)
class Mapped:
    """The ASYCUDA document (the national currency comes from ``Declaration.model``, not from here)."""

    document: bytes


class MappingError(ValueError):
    """The declaration cannot be turned into ASYCUDA XML (not XML, or the stylesheet failed on it)."""


class AsycudaMapping:
    """The compiled stylesheet; call it with a declaration to get the ASYCUDA document.

    Compiled once (at adapter creation): compiling costs milliseconds, applying it far less.

    Args:
        stylesheet: the XSLT 1.0 file; the shipped one by default.

    Raises:
        OSError: the stylesheet cannot be read.
        etree.XSLTParseError: the stylesheet is not valid XSLT (a packaging bug).
    """

    def __init__(self, stylesheet: Path = STYLESHEET) -> None:
        # The stylesheet reads nothing but its input: deny documents, files and network to it.
        self._transform = etree.XSLT(etree.parse(str(stylesheet)), access_control=etree.XSLTAccessControl.DENY_ALL)

    def __call__(self, payload: bytes) -> Mapped:
        """Return the ASYCUDA World declaration (UTF-8 bytes) for one WCO DM declaration.

        Args:
            payload: the OCO declaration (``MetaData`` envelope or a bare ``Declaration``).

        Raises:
            MappingError: the payload is not XML, or the transformation failed.
        """
        try:
            source = parse_xml(payload)
            result = self._transform(etree.ElementTree(source))
        except XMLError as exc:
            raise MappingError(f"the declaration is not well-formed XML: {exc}") from exc
        except etree.XSLTApplyError as exc:
            raise MappingError(f"the ASYCUDA mapping failed: {exc}") from exc
        root = result.getroot()
        if root is None or root.tag != "ASYCUDA" or len(root) == 0:
            raise MappingError("the ASYCUDA mapping produced no declaration: is this a WCO DM Declaration?")
        # Serialised as the stylesheet's xsl:output says: UTF-8, one element per line.
        return Mapped(document=bytes(result))
