"""``WcoXmlAdapter``: post the declaration unchanged to a WCO DM single window and read its Response."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from adapters.wco_xml.answer import read_answer
from adapters.wco_xml.settings import WcoXmlSettings
from gateway.sdk import (Adapter, AdapterProtocolError, AdapterUnavailable, Declaration, NationalAnswer, parse_settings,
                         too_many_items)

__all__ = ["REPLAYED_HEADER", "SYSTEM", "WcoXmlAdapter"]

SYSTEM = "WCO"
"""The system tag of the issue codes: those this adapter makes itself (``NZ-WCO-TOO-MANY-ITEMS``) and the
national system's Errors, their codes kept whole (``NZ-WCO-TSW-DUPLICATE-LRN``)."""

REPLAYED_HEADER = "Idempotent-Replayed"
"""Answer header (``true``) by which the national system says it replayed the answer to an earlier delivery."""

# "Try again later" statuses. 401/403/404/405 are here too: they mean our URL or credentials are wrong,
# which an operator fixes; retrying keeps the declarations instead of rejecting every one of them.
_RETRY_STATUSES = frozenset({401, 403, 404, 405, 408, 425, 429})


class WcoXmlAdapter(Adapter):
    """Deliver to a system that takes WCO DM XML over HTTP, such as New Zealand's Trade Single Window.

    ``POST <url>/declarations`` with the declaration as submitted, ``Idempotency-Key`` and
    ``X-OCO-Tracking-Id`` headers. The answer is a WCO DM Response: FunctionCode 01/02/09/10 accepted,
    03 rejected with its Errors; ``Declaration/ID`` is the customs reference.

    Settings: ``url`` (required), ``timeout`` (seconds, default 10), ``max_items`` (the most goods items the
    single window takes; a declaration with more is rejected ``<MEMBER>-WCO-TOO-MANY-ITEMS`` without posting it),
    ``headers`` (extra headers), ``secret_headers`` (extra headers whose values are read from files, such as an
    API key from a Secret).

    Args:
        member: the member code.
        settings: the member's adapter settings.

    Raises:
        ConfigError: the settings are wrong; the message names the key.
    """

    NAME = "wco-xml"

    def __init__(self, member: str, settings: Mapping[str, Any]) -> None:
        super().__init__(member, settings)
        self.config = parse_settings(WcoXmlSettings, settings, member=member, adapter=self.NAME)
        # One client for the adapter's life: its connection pool keeps the TLS sessions to the single window.
        self._client = httpx.AsyncClient(base_url=self.config.url, headers=self.config.all_headers(),
                                         timeout=self.config.timeout)

    async def deliver(self, declaration: Declaration) -> NationalAnswer:
        """Post one declaration and return the national answer.

        Args:
            declaration: the validated declaration.

        Raises:
            AdapterUnavailable: no connection, no answer within ``timeout``, or HTTP 5xx/429/408 (also
                401/403/404/405: the URL or credentials need an operator).
            AdapterProtocolError: the answer is not a WCO DM Response this adapter can read.
        """
        refused = too_many_items(declaration.model, self.config.max_items, member=self.member, system=SYSTEM) \
            if self.config.max_items is not None else None
        if refused is not None:
            return refused
        headers = {"Content-Type": "application/xml", "Accept": "application/xml",
                   "Idempotency-Key": _header(declaration.idempotency_key),
                   "X-OCO-Tracking-Id": _header(declaration.tracking_id)}
        where = f"national system of {self.member} at {self.config.url}/declarations"
        try:
            # httpx's timeout bounds each read; this bounds the whole exchange, so a slow drip cannot stall us.
            async with asyncio.timeout(self.config.timeout):
                response = await self._client.post("/declarations", content=declaration.payload, headers=headers)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise self._unavailable(f"{where} did not answer within {self.config.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise self._unavailable(f"{where} cannot be reached: {exc!r}") from exc
        status = response.status_code
        if status >= 500 or status in _RETRY_STATUSES:
            retry_after = response.headers.get("Retry-After")
            raise self._unavailable(f"{where} answered HTTP {status}" +
                                    (f" (Retry-After: {retry_after})" if retry_after else ""))
        replayed = response.headers.get(REPLAYED_HEADER, "").lower() == "true"
        try:
            if not 200 <= status < 300 and not 400 <= status < 500:  # 1xx/3xx: redirects are not followed
                raise ValueError("that is not an answer to a declaration")
            answer = read_answer(response.content, duplicate=replayed, member=self.member, system=SYSTEM)
            if answer.accepted and status >= 400:
                raise ValueError("an error status with an accepting Response contradicts itself")
        except ValueError as exc:
            raise AdapterProtocolError(f"{where} answered HTTP {status} with something unreadable: {exc}",
                                       member=self.member, adapter=self.NAME) from exc
        return answer

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.aclose()

    def _unavailable(self, message: str) -> AdapterUnavailable:
        return AdapterUnavailable(message, member=self.member, adapter=self.NAME)


def _header(value: str) -> str:
    # HTTP header values are ASCII; an LRN may not be. Percent-encoding is stable, so a redelivery sends
    # the same key.
    return value if value.isascii() and value.isprintable() else quote(value, safe="")
