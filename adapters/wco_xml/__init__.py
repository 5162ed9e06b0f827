"""National connector for systems that take WCO Data Model XML directly (New Zealand's Trade Single Window)."""

from __future__ import annotations

from adapters.wco_xml.adapter import WcoXmlAdapter
from adapters.wco_xml.answer import read_answer
from adapters.wco_xml.settings import WcoXmlSettings

__all__ = ["WcoXmlAdapter", "WcoXmlSettings", "read_answer"]
