"""How an ASYCUDA document reaches ASYCUDA World: one small interface, an HTTP implementation.

A transport sends one document and returns the :class:`Reply` (a result or a rejection document), or
raises ``AdapterUnavailable`` (not reachable, too slow, "try later") or ``AdapterProtocolError`` (an answer
that is no ASYCUDA answer at all). The hot-folder transport is in :mod:`adapters.asycuda.hotfolder`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import httpx

from gateway.sdk import AdapterProtocolError, AdapterUnavailable, header_value

__all__ = ["ADAPTER", "AsycudaTransport", "HttpTransport", "Reply"]

ADAPTER = "asycuda"
_RETRY_LATER = {408, 425, 429}  # timeout, too early, too many requests: transient by definition


@dataclass(frozen=True, slots=True)
class Reply:
    """What ASYCUDA answered.

    Attributes:
        body: the document: the assessed declaration, or the error list when ``rejected``.
        rejected: ASYCUDA refused the declaration under its own rules.
        replayed: ASYCUDA had already registered this idempotency key and answered with that registration.
    """

    body: bytes
    rejected: bool = False
    replayed: bool = False


class AsycudaTransport(Protocol):
    """Sends one ASYCUDA document and waits for the answer."""

    async def send(self, document: bytes, *, key: str, tracking_id: str) -> Reply:
        """Deliver ``document`` and return ASYCUDA's answer.

        Args:
            document: the ASYCUDA World declaration XML.
            key: the idempotency key; ASYCUDA registers a key once.
            tracking_id: the gateway's tracking id, for ASYCUDA's logs.

        Raises:
            AdapterUnavailable: not reachable, timed out, or "try later".
            AdapterProtocolError: the answer is not an ASYCUDA answer.
        """
        ...

    async def aclose(self) -> None:
        """Release connections and files."""
        ...


class HttpTransport:
    """POST to ``{url}/asycuda/declarations``; 200 is a result, 422 a rejection, 5xx "try later".

    Args:
        url: the service's base URL.
        timeout: seconds for the whole exchange, connection included.
        member: the member served, for error context.
        transport: an httpx transport to use instead of the network (tests: ``httpx.MockTransport``).
    """

    def __init__(self, url: str, *, timeout: float, member: str,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = f"{url}/asycuda/declarations"
        self.timeout = timeout
        self.member = member
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport,
                                         headers={"Content-Type": "application/xml"})

    async def send(self, document: bytes, *, key: str, tracking_id: str) -> Reply:
        """POST ``document``; see :meth:`AsycudaTransport.send`.

        Args:
            document: the ASYCUDA World declaration XML.
            key: sent as ``Idempotency-Key`` (percent-encoded UTF-8 when it is not printable ASCII, see
                ``gateway.sdk.header_value``).
            tracking_id: sent as ``X-OCO-Tracking-Id``.

        Raises:
            AdapterUnavailable: connection refused or dropped, timeout, HTTP 5xx, 408 or 429.
            AdapterProtocolError: any other unexpected HTTP status, or a failure to decode the answer.
        """
        headers = {"Idempotency-Key": header_value(key), "X-OCO-Tracking-Id": header_value(tracking_id)}
        try:
            # httpx's timeout is per read/write; this bounds the whole exchange (a trickling server too).
            async with asyncio.timeout(self.timeout):
                response = await self._client.post(self.url, content=document, headers=headers)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise self._unavailable(f"did not answer within {self.timeout:g} s") from exc
        except httpx.TransportError as exc:
            raise self._unavailable(f"cannot be reached ({type(exc).__name__}: {exc})") from exc
        except httpx.HTTPError as exc:
            raise AdapterProtocolError(f"ASYCUDA World of {self.member} at {self.url}: {exc!r}",
                                       member=self.member, adapter=ADAPTER) from exc
        status = response.status_code
        if status == 200:
            return Reply(response.content, replayed=response.headers.get("Idempotent-Replayed") == "true")
        if status == 422:
            return Reply(response.content, rejected=True)
        if status >= 500 or status in _RETRY_LATER:
            retry = response.headers.get("Retry-After")
            raise self._unavailable(f"answered HTTP {status}" + (f" (Retry-After: {retry})" if retry else ""))
        raise AdapterProtocolError(
            f"ASYCUDA World of {self.member} at {self.url} answered HTTP {status}, which the adapter does not "
            f"expect: {response.content[:200]!r}; check members.{self.member}.adapter.settings.url",
            member=self.member, adapter=ADAPTER)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    def _unavailable(self, what: str) -> AdapterUnavailable:
        return AdapterUnavailable(f"ASYCUDA World of {self.member} at {self.url} {what}; the delivery will be "
                                  "retried", member=self.member, adapter=ADAPTER)
