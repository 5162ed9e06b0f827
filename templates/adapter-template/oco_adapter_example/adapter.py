"""``ExampleAdapter``: deliver to a customs system that takes the XML and answers JSON over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx

from gateway.adapter_api import (Adapter, AdapterProtocolError, AdapterUnavailable, ConfigError, Declaration,
                                 Issue, NationalAnswer, Registration)

__all__ = ["ExampleAdapter"]


class ExampleAdapter(Adapter):
    """POST the declaration to ``<url>/declarations``; the system answers JSON.

    ``{"status": "registered", "reference": "...", "replayed": false}`` or
    ``{"status": "rejected", "errors": [{"code": "...", "message": "..."}]}``; HTTP 5xx means "try later".
    Settings: ``url`` (required), ``timeout`` (seconds, default 10).

    Raises:
        ConfigError: the settings are wrong.
    """

    NAME = "example"

    def __init__(self, member: str, settings: Mapping[str, Any]) -> None:
        super().__init__(member, settings)
        url, timeout = settings.get("url"), settings.get("timeout", 10)
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"members.{member}.adapter.settings.url: expected an http(s) URL, not {url!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigError(f"members.{member}.adapter.settings.timeout: expected seconds > 0, not {timeout!r}")
        self.timeout = float(timeout)
        self._client = httpx.AsyncClient(base_url=url, timeout=self.timeout)  # one pool for the adapter's life

    async def deliver(self, declaration: Declaration) -> NationalAnswer:
        """Deliver one declaration; see the class docstring for the exchange.

        Args:
            declaration: the validated declaration.

        Raises:
            AdapterUnavailable: unreachable, too slow, or HTTP 5xx: the worker retries later.
            AdapterProtocolError: an answer this adapter cannot read: the worker parks the declaration.
        """
        try:
            async with asyncio.timeout(self.timeout):  # bounds the whole exchange, not each read
                response = await self._client.post("/declarations", content=declaration.payload, headers={
                    "Content-Type": "application/xml", "Idempotency-Key": declaration.idempotency_key})
        except (TimeoutError, httpx.HTTPError) as exc:  # translate where the library is called
            raise self._error(AdapterUnavailable, f"no answer: {exc!r}") from exc
        if response.status_code >= 500:
            raise self._error(AdapterUnavailable, f"HTTP {response.status_code}")
        try:
            body = response.json()
            if body["status"] == "registered":
                return NationalAnswer(True, registration=Registration(reference=str(body["reference"])),
                                      duplicate=bool(body.get("replayed")), raw=response.content)
            if body["status"] == "rejected":
                issues = tuple(Issue(str(e["code"]), str(e["message"])) for e in body["errors"])
                return NationalAnswer(False, issues=issues, raw=response.content)
            raise ValueError(f"unknown status {body['status']!r}")
        except (ValueError, KeyError, TypeError) as exc:
            raise self._error(AdapterProtocolError, f"unreadable answer (HTTP {response.status_code})") from exc

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.aclose()

    def _error(self, kind: type[AdapterUnavailable] | type[AdapterProtocolError], what: str) -> Exception:
        return kind(f"national system of {self.member}: {what}", member=self.member, adapter=self.NAME)
