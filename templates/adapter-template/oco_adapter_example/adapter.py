"""``ExampleAdapter``: deliver to a single window that takes JSON over HTTP, the body made from the declaration model.

Everything here is what your adapter needs too, and nothing more: settings checked at start-up, the body
read from ``declaration.model`` (no XML code), one HTTP call bounded by the adapter's own timeout, the
idempotency key sent along, and the answer turned into a :class:`NationalAnswer` whose issues follow the
gateway's conventions (codes ``<MEMBER>-EXSW-<REASON>``, pointers into the submitter's own document).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.sdk import (Adapter, AdapterProtocolError, AdapterUnavailable, Amount, Declaration, NationalAnswer,
                         Party, Registration, header_value, national_issue, parse_settings, too_many_items)

__all__ = ["MAX_LINES", "SYSTEM", "ExampleAdapter", "ExampleSettings", "json_body"]

SYSTEM = "EXSW"
"""The national system's tag in issue codes: ``VU-EXSW-TARIFF``."""
MAX_LINES = 99
"""The single window takes at most this many lines; more is refused before sending, with a pointer."""


class ExampleSettings(BaseModel):
    """The adapter's ``members.<CODE>.adapter.settings``: one field per key, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="the system's base URL, such as https://sw.customs.example")
    timeout: float = Field(10.0, gt=0, le=600, strict=True, description="seconds one delivery may take in all")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:  # a ValueError's text is what the operator reads after the key
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected an http(s) URL, such as https://sw.customs.example, not {url!r}")
        return url.rstrip("/")


def _money(amount: Amount | None) -> dict[str, str | None] | None:
    return None if amount is None else {"amount": str(amount.value), "currency": amount.currency}


def _party(party: Party | None) -> dict[str, str | None] | None:
    if party is None:
        return None
    return {"tin": party.id, "name": party.name, "country": party.address.country if party.address else None}


def json_body(declaration: Declaration) -> dict[str, Any]:
    """Return the single window's JSON body, read from ``declaration.model`` only.

    Each amount travels with its own currency: lines of one declaration may be invoiced in several.

    Args:
        declaration: the validated declaration.
    """
    m = declaration.model
    transport = m.arrival_transport or m.departure_transport or m.border_transport
    return {
        "lrn": m.lrn, "procedure": m.type_code, "function": m.function_code, "customsReference": m.customs_reference,
        "lodgedAt": m.issued.isoformat() if m.issued else None, "office": m.office,
        "declarant": _party(m.declarant), "agentTin": m.representative.id if m.representative else None,
        "importer": _party(m.importer), "exporter": _party(m.exporter),
        "trustedTraders": [{"tin": a.trader_id, "scheme": a.category} for a in m.aeo_holders],
        "vessel": transport and {"mode": transport.mode_code, "id": transport.id, "name": transport.name},
        "invoice": _money(m.invoice_amount),
        "lines": [{
            "line": i.sequence, "tariff": i.hs_code, "description": i.description, "origin": i.origin,
            "packages": i.packages, "customsValue": _money(i.customs_value),
            "taxes": [{"type": t.type_code, "rate": None if t.rate is None else str(t.rate),
                       "assessed": _money(t.assessed)} for t in i.duty_tax],
        } for i in m.items],
        "totalsByCurrency": _totals(m.items),
    }


def _totals(items: Any) -> dict[str, str]:
    # One total per currency: a sum across currencies would mean nothing.
    totals: dict[str, Decimal] = {}
    for value in (i.customs_value for i in items if i.customs_value is not None):
        totals[value.currency or ""] = totals.get(value.currency or "", Decimal(0)) + value.value
    return {currency: str(total) for currency, total in sorted(totals.items())}


class ExampleAdapter(Adapter):
    """POST the declaration as JSON to ``<url>/api/declarations``; see :mod:`oco_adapter_example.simulator`.

    Raises:
        ConfigError: the settings are wrong.
    """

    NAME = "example"

    def __init__(self, member: str, settings: Mapping[str, Any]) -> None:
        super().__init__(member, settings)
        self.config = parse_settings(ExampleSettings, settings, member=member, adapter=self.NAME)  # ConfigError
        self._client = httpx.AsyncClient(base_url=self.config.url, timeout=self.config.timeout)  # one pool for life

    async def deliver(self, declaration: Declaration) -> NationalAnswer:
        """Deliver one declaration and read the single window's answer.

        Args:
            declaration: the validated declaration.

        Raises:
            AdapterUnavailable: unreachable, too slow, or HTTP 5xx: the worker retries later.
            AdapterProtocolError: an answer this adapter cannot read: the worker parks the declaration.
        """
        refused = too_many_items(declaration.model, MAX_LINES, member=self.member, system=SYSTEM)
        if refused is not None:  # the system would refuse it: say so, pointing at the first item too many
            return refused
        try:
            async with asyncio.timeout(self.config.timeout):  # bounds the whole exchange, not each read
                response = await self._client.post("/api/declarations", json=json_body(declaration), headers={
                    # An LRN may be any text; header values are ASCII: percent-encoded when they must be.
                    "Idempotency-Key": header_value(declaration.idempotency_key),
                    "X-Tracking-Id": header_value(declaration.tracking_id)})
        except (TimeoutError, httpx.HTTPError) as exc:  # translate where the library is called
            raise self._error(AdapterUnavailable, f"no answer: {exc!r}") from exc
        if response.status_code >= 500:
            raise self._error(AdapterUnavailable, f"HTTP {response.status_code}")
        try:
            answer = response.json()
            if answer["status"] == "REGISTERED":
                return NationalAnswer(True, registration=Registration(reference=str(answer["registrationNumber"])),
                                      duplicate=bool(answer.get("replayed")), raw=response.content)
            if answer["status"] == "REFUSED":
                issues = tuple(national_issue(self.member, SYSTEM, str(e["code"]), str(e["message"]),
                                              pointer=_pointer(declaration, str(e.get("field") or "")))
                               for e in answer["errors"])
                return NationalAnswer(False, issues=issues, raw=response.content)
            raise ValueError(f"unknown status {answer['status']!r}")
        except (ValueError, KeyError, TypeError) as exc:
            raise self._error(AdapterProtocolError, f"unreadable answer (HTTP {response.status_code})") from exc

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.aclose()

    def _error(self, kind: type[AdapterUnavailable] | type[AdapterProtocolError], what: str) -> Exception:
        return kind(f"single window of {self.member}: {what}", member=self.member, adapter=self.NAME)


_LINE_FIELD = re.compile(r"lines\[(\d+)\]\.(\w+)")
_LINE_FIELDS = {"tariff": "hs_code", "description": "description", "origin": "origin", "packages": "packages",
                "customsValue": "customs_value", "taxes": "duty_tax"}
"""The body's line fields -> the model's GoodsItem fields they are made from (see json_body)."""
_FIELDS = {"lrn": "lrn", "procedure": "type_code", "office": "office", "declarant": "declarant",
           "invoice": "invoice_amount", "importer": "importer", "exporter": "exporter"}
"""The body's top-level fields -> the model's DeclarationModel fields."""


def _pointer(declaration: Declaration, field: str) -> str | None:
    """Return where a refused JSON field (``lines[2].tariff``) came from in the submitter's document.

    The national system names its own fields; the trader needs the element of its WCO document. None when
    the error names no field.
    """
    model = declaration.model
    line = _LINE_FIELD.match(field)
    if line and 1 <= int(line.group(1)) <= len(model.items):
        item = model.items[int(line.group(1)) - 1]
        return item.pointer_to(_LINE_FIELDS[line.group(2)]) if line.group(2) in _LINE_FIELDS else item.pointer
    top = _FIELDS.get(field.split(".", 1)[0].split("[", 1)[0])
    return model.pointer_to(top) if top else (model.pointer if field else None)
