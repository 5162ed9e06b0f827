"""How WcoXmlAdapter posts declarations and maps HTTP outcomes to answers and errors (no simulator needed)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from adapters.wco_xml import WcoXmlAdapter
from gateway.ops.broker import free_ports
from gateway.responses import build_response
from gateway.samples import make_declaration
from gateway.sdk import AdapterProtocolError, AdapterUnavailable, Declaration, Issue, idempotency_key

Handler = Callable[[httpx.Request], httpx.Response]
Maker = Callable[[Handler], WcoXmlAdapter]
_ACCEPTED = build_response(status="accepted", tracking_id="t", lrn="L", member="NZ", declaration_id="26NZ1")
_REJECTED = build_response(status="rejected", tracking_id="t", lrn="L", member="NZ",
                           issues=[Issue("TSW-UNKNOWN-DECLARANT", "who?")])


def _declaration(lrn: str = "LRN-1") -> Declaration:
    payload = make_declaration(member="NZ", lrn=lrn, seed=1)
    return Declaration(payload=payload, member="NZ", participant="p", lrn=lrn, function_code="9",
                       tracking_id="trk-1", idempotency_key=idempotency_key("p", lrn, "9", payload))


@pytest.fixture
async def mocked() -> AsyncIterator[Maker]:
    """Build adapters whose HTTP client answers through a handler (httpx.MockTransport), closing them after."""
    made: list[WcoXmlAdapter] = []

    def make(handler: Handler) -> WcoXmlAdapter:
        adapter = WcoXmlAdapter("NZ", {"url": "https://tsw.example/api/", "timeout": 2,
                                       "headers": {"Authorization": "Bearer k"}})
        # The adapter's own client, rebuilt on a mock transport: same base URL and headers.
        adapter._client = httpx.AsyncClient(base_url=adapter.config.url, headers=dict(adapter.config.headers),
                                            transport=httpx.MockTransport(handler))
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        await adapter.aclose()


class TestDeliver:
    async def test_posts_the_declaration_unchanged_with_headers(self, mocked: Maker) -> None:
        """The payload is posted byte for byte to <url>/declarations with the idempotency and tracking headers."""
        seen: list[httpx.Request] = []
        adapter = mocked(lambda request: seen.append(request) or httpx.Response(201, content=_ACCEPTED))
        declaration = _declaration()
        answer = await adapter.deliver(declaration)
        assert answer.accepted and answer.registration and answer.registration.reference == "26NZ1"
        (request,) = seen
        assert str(request.url) == "https://tsw.example/api/declarations" and request.method == "POST"
        assert request.content == declaration.payload
        assert request.headers["Content-Type"] == "application/xml"
        assert request.headers["Idempotency-Key"] == declaration.idempotency_key
        assert request.headers["X-OCO-Tracking-Id"] == "trk-1"
        assert request.headers["Authorization"] == "Bearer k"

    async def test_replay_header_marks_a_duplicate(self, mocked: Maker) -> None:
        """An answer with Idempotent-Replayed: true is a duplicate."""
        adapter = mocked(lambda r: httpx.Response(200, content=_ACCEPTED, headers={"Idempotent-Replayed": "true"}))
        assert (await adapter.deliver(_declaration())).duplicate

    async def test_non_ascii_key_is_percent_encoded(self, mocked: Maker) -> None:
        """An LRN outside ASCII still travels in the Idempotency-Key header, percent-encoded."""
        seen: list[httpx.Request] = []
        adapter = mocked(lambda request: seen.append(request) or httpx.Response(201, content=_ACCEPTED))
        await adapter.deliver(_declaration("LRN-Āpia"))
        assert "%C4%80pia" in seen[0].headers["Idempotency-Key"]

    @pytest.mark.parametrize("status", [200, 400, 422])
    async def test_rejecting_response_is_an_answer(self, mocked: Maker, status: int) -> None:
        """A Response 03, with a 2xx or 4xx status, is a rejected answer with the national reasons (convention codes)."""
        adapter = mocked(lambda r: httpx.Response(status, content=_REJECTED))
        answer = await adapter.deliver(_declaration())
        assert not answer.accepted and answer.issues == (Issue("NZ-WCO-TSW-UNKNOWN-DECLARANT", "who?"),)

    @pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 408, 401, 403, 404])
    async def test_try_later_statuses_are_unavailable(self, mocked: Maker, status: int) -> None:
        """5xx, 429, 408, and the misconfiguration statuses 401/403/404 raise AdapterUnavailable with context."""
        adapter = mocked(lambda r: httpx.Response(status, text="busy", headers={"Retry-After": "7"}))
        with pytest.raises(AdapterUnavailable, match=f"HTTP {status} \\(Retry-After: 7\\)") as caught:
            await adapter.deliver(_declaration())
        assert (caught.value.member, caught.value.adapter) == ("NZ", "wco-xml")

    @pytest.mark.parametrize(("status", "body"), [
        (200, b"<html>welcome</html>"), (200, b""), (201, b"OK"), (302, _ACCEPTED), (400, _ACCEPTED),
    ])
    async def test_unreadable_answers_are_protocol_errors(self, mocked: Maker, status: int, body: bytes) -> None:
        """A body that is no Response, a redirect, or an error status with an accepting Response is a protocol error."""
        adapter = mocked(lambda r: httpx.Response(status, content=body))
        with pytest.raises(AdapterProtocolError, match=f"HTTP {status}") as caught:
            await adapter.deliver(_declaration())
        assert (caught.value.member, caught.value.adapter) == ("NZ", "wco-xml")
        assert isinstance(caught.value.__cause__, ValueError)

    async def test_transport_timeout_is_unavailable(self, mocked: Maker) -> None:
        """An httpx timeout becomes AdapterUnavailable, with the httpx error as its cause."""
        def slow(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("slow", request=request)

        with pytest.raises(AdapterUnavailable, match="did not answer within 2 s") as caught:
            await mocked(slow).deliver(_declaration())
        assert isinstance(caught.value.__cause__, httpx.ReadTimeout)

    async def test_refused_connection_is_unavailable(self) -> None:
        """Nothing listening at the URL raises AdapterUnavailable at once (a real socket, no mock)."""
        port = free_ports(1)[0]
        adapter = WcoXmlAdapter("NZ", {"url": f"http://127.0.0.1:{port}", "timeout": 5})
        started = time.monotonic()
        try:
            with pytest.raises(AdapterUnavailable, match="cannot be reached") as caught:
                await adapter.deliver(_declaration())
        finally:
            await adapter.aclose()
        assert isinstance(caught.value.__cause__, httpx.ConnectError)
        assert time.monotonic() - started < 2
