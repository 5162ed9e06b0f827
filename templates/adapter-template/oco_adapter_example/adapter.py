"""``ExampleAdapter``: deliver to a customs system that takes the XML and answers JSON over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.sdk import (Adapter, AdapterProtocolError, AdapterUnavailable, Declaration, Issue,
                                 NationalAnswer, Registration, header_value, parse_settings)

__all__ = ["ExampleAdapter", "ExampleSettings"]


class ExampleSettings(BaseModel):
    """The adapter's ``members.<CODE>.adapter.settings``: one field per key, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="the system's base URL, such as https://customs.example/api")
    timeout: float = Field(10.0, gt=0, strict=True, description="seconds one delivery may take in all")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:  # a ValueError's text is what the operator reads after the key
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected an http(s) URL, such as https://customs.example/api, not {url!r}")
        return url.rstrip("/")


class ExampleAdapter(Adapter):
    """POST the declaration to ``<url>/declarations``; the system answers JSON.

    ``{"status": "registered", "reference": "...", "replayed": false}`` or
    ``{"status": "rejected", "errors": [{"code": "...", "message": "..."}]}``; HTTP 5xx means "try later".
    Settings: see :class:`ExampleSettings`.

    Raises:
        ConfigError: the settings are wrong.
    """

    NAME = "example"

    def __init__(self, member: str, settings: Mapping[str, Any]) -> None:
        super().__init__(member, settings)
        self.config = parse_settings(ExampleSettings, settings, member=member, adapter=self.NAME)  # ConfigError
        self.timeout = self.config.timeout
        self._client = httpx.AsyncClient(base_url=self.config.url, timeout=self.timeout)  # one pool for its life

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
                    "Content-Type": "application/xml",
                    # An LRN may be any text; header values are ASCII: percent-encoded when they must be.
                    "Idempotency-Key": header_value(declaration.idempotency_key)})
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
