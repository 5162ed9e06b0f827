"""A REST/JSON single-window adapter for Vanuatu, written from docs/adapters.md: the body comes from the model.

It is the issue's example made real: no XML code of its own (no lxml, no XPath), only ``gateway.sdk``.
The single window takes ``POST /api/declarations`` with a JSON body and the idempotency key in a header, and
answers ``{"status": "REGISTERED", "registrationNumber": ...}`` or ``{"status": "REFUSED", "errors": [...]}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from gateway.sdk import (Adapter, AdapterProtocolError, AdapterUnavailable, Amount, Declaration, Issue,
                                 NationalAnswer, Party, Quantity, Registration, header_value, parse_settings)

__all__ = ["VuSingleWindowAdapter", "json_body"]


class VuSingleWindowSettings(BaseModel):
    """``members.VU.adapter.settings``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="the single window's base URL, such as https://sw.customs.gov.vu")
    timeout: float = Field(10.0, gt=0, strict=True)


def _money(amount: Amount | None) -> dict[str, str | None] | None:
    return None if amount is None else {"amount": str(amount.value), "currency": amount.currency}


def _kg(quantity: Quantity | None) -> str | None:
    return None if quantity is None or quantity.unit not in (None, "KGM") else str(quantity.value)


def _party(party: Party | None) -> dict[str, str | None] | None:
    if party is None:
        return None
    return {"tin": party.id, "name": party.name, "country": party.address.country if party.address else None}


def json_body(declaration: Declaration) -> dict[str, Any]:
    """Return the single window's JSON body, read from ``declaration.model`` only.

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
        "portOfLoading": m.loading_location.id if m.loading_location else None,
        "goodsLocation": m.goods_location.id if m.goods_location else None,
        "invoice": _money(m.invoice_amount),
        "lines": [{
            "line": i.sequence, "tariff": i.hs_code, "description": i.description, "origin": i.origin,
            "cpc": i.procedure, "packages": i.packages, "packageType": i.package_type, "grossKg": _kg(i.gross_mass),
            "customsValue": _money(i.customs_value),
            "taxes": [{"type": t.type_code, "preference": t.regime_code,
                       "rate": None if t.rate is None else str(t.rate), "assessed": _money(t.assessed)}
                      for t in i.duty_tax],
        } for i in m.items],
        "totalCustomsValue": _total(m.items),
    }


def _total(items: Any) -> dict[str, str] | None:
    # Only when every line is in one currency: a total across currencies would mean nothing.
    values = [i.customs_value for i in items if i.customs_value is not None]
    currencies = {v.currency for v in values}
    if not values or len(currencies) != 1:
        return None
    return {"amount": str(sum((v.value for v in values), Decimal(0))), "currency": str(currencies.pop())}


class VuSingleWindowAdapter(Adapter):
    """POST the declaration as JSON to the single window; see the module docstring."""

    NAME = "vu-single-window"

    def __init__(self, member: str, settings: Mapping[str, Any]) -> None:
        super().__init__(member, settings)
        self.config = parse_settings(VuSingleWindowSettings, settings, member=member, adapter=self.NAME)
        self._client = httpx.AsyncClient(base_url=self.config.url, timeout=self.config.timeout)

    async def deliver(self, declaration: Declaration) -> NationalAnswer:
        """Send the JSON body with the idempotency key; read the single window's JSON answer.

        Args:
            declaration: the validated declaration.

        Raises:
            AdapterUnavailable: unreachable, too slow, or HTTP 5xx.
            AdapterProtocolError: an answer this adapter cannot read.
        """
        body = json_body(declaration)
        try:
            async with asyncio.timeout(self.config.timeout):
                response = await self._client.post("/api/declarations", json=body, headers={
                    "Idempotency-Key": header_value(declaration.idempotency_key),
                    "X-Tracking-Id": header_value(declaration.tracking_id)})
        except (TimeoutError, httpx.HTTPError) as exc:
            raise AdapterUnavailable(f"single window of {self.member}: no answer: {exc!r}", member=self.member,
                                     adapter=self.NAME) from exc
        if response.status_code >= 500:
            raise AdapterUnavailable(f"single window of {self.member}: HTTP {response.status_code}",
                                     member=self.member, adapter=self.NAME)
        try:
            answer = response.json()
            if answer["status"] == "REGISTERED":
                return NationalAnswer(True, registration=Registration(reference=str(answer["registrationNumber"])),
                                      duplicate=bool(answer.get("replayed")), raw=response.content)
            if answer["status"] == "REFUSED":
                return NationalAnswer(False, issues=tuple(Issue(str(e["code"]), str(e["message"]))
                                                          for e in answer["errors"]), raw=response.content)
            raise ValueError(answer["status"])
        except (ValueError, KeyError, TypeError) as exc:
            raise AdapterProtocolError(f"single window of {self.member}: unreadable answer "
                                       f"(HTTP {response.status_code})", member=self.member,
                                       adapter=self.NAME) from exc

    async def aclose(self) -> None:
        """Close the HTTP pool."""
        await self._client.aclose()
