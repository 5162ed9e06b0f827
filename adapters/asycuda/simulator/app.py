"""The simulator's HTTP API (starlette).

=======  ===============================  ==============================================================
POST     /asycuda/declarations            ASYCUDA XML in; 200 assessed declaration (``Idempotent-Replayed:
                                          true`` on a known ``Idempotency-Key``), 422 ``ASYCUDA_ERRORS``,
                                          503 while down or on a simulated failure (or a dropped connection)
GET      /health                          200 ``{"status": "ok", "member": ...}``, 503 ``"down"`` while down
GET      /control                         200 the controls, the member and the registrations (JSON)
POST     /control                         JSON any of ``down``, ``delay``, ``failure_rate``,
                                          ``reject_next``; 200 the new controls, 400 ``{"error": ...}``
GET      /control/registrations?key=K     200 ``{"key": K, "count": n}``; without key the totals
GET      /control/calls?after=N           200 the declarations received over HTTP, in order, each with when it
                                          arrived and was answered (:class:`gateway.sdk.simkit.CallLog`)
=======  ===============================  ==============================================================

The control, registrations and health endpoints are :func:`gateway.sdk.simkit.control_routes`. Registrations
live in the state's registration book (SQLite: ``--state FILE``); an original reusing a declarant reference
(LRN) the declarant registered with other content is refused ``ASY-DEC-REF-EXISTS`` (:mod:`.service`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from adapters.asycuda.simulator.checks import Problem, errors_document
from adapters.asycuda.simulator.service import AsycudaSimulator
from gateway.sdk.simkit import CallLog, control_routes

__all__ = ["DroppedConnectionFilter", "create_app"]

_XML = "application/xml"


class _DroppedConnection(Response):
    """Starts a 200 answer and stops: the server closes the connection mid-response, the client sees it
    dropped (the registration is made, its answer lost: the case idempotency keys exist for)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", _XML.encode()), (b"content-length", b"100000")]})


class DroppedConnectionFilter(logging.Filter):
    """Hides uvicorn's error about a response left incomplete: here that is a simulated failure, not a bug."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Return False for uvicorn's "returned without completing response" record.

        Args:
            record: a record of the ``uvicorn.error`` logger.
        """
        return "without completing response" not in record.getMessage()


def create_app(simulator: AsycudaSimulator, *,
               lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
               rng: random.Random | None = None) -> Starlette:
    """Return the ASGI app of the simulator.

    Args:
        simulator: the simulated system.
        lifespan: run around the server's life (the hot-folder watcher).
        rng: draws the simulated failures; seed it for reproducible runs.
    """
    draw = rng or random.Random()
    controls = simulator.state.controls
    calls = CallLog()

    async def declarations(request: Request) -> Response:
        with calls.record(request.headers.get("Idempotency-Key", "")):
            return await _declaration(request)

    async def _declaration(request: Request) -> Response:
        trouble = controls.trouble(draw)
        if trouble == "down":
            return _unavailable("ASYCUDA World server is not available (maintenance)")
        if trouble == "failure" and draw.random() < 0.5:
            return _unavailable("ASYCUDA World server is overloaded")
        outcome = await simulator.submit(await request.body(), request.headers.get("Idempotency-Key"))
        if trouble == "failure":
            return _DroppedConnection()
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
        return Response(outcome.document, status_code=200 if outcome.accepted else 422, media_type=_XML,
                        headers=headers)

    routes = [Route("/asycuda/declarations", declarations, methods=["POST"]),
              *control_routes(controls, registrations=simulator.registrations, totals=lambda: _totals(simulator),
                              report=lambda: _report(simulator), health={"member": simulator.member},
                              down_is_unhealthy=True, calls=calls)]
    return Starlette(routes=routes, lifespan=lifespan or _no_lifespan)


def _unavailable(message: str) -> Response:
    return Response(errors_document([Problem("ASY-UNAVAILABLE", message)]), status_code=503, media_type=_XML,
                    headers={"Retry-After": "30"})


def _report(simulator: AsycudaSimulator) -> dict[str, Any]:
    return {"member": simulator.member, "registrations": _totals(simulator)["total"]}


def _totals(simulator: AsycudaSimulator) -> dict[str, Any]:
    return simulator.state.book.totals()


@asynccontextmanager
async def _no_lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
