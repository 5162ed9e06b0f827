"""Shared kit of the national-system simulators: the failure controls and the control, registrations and health API.

Every simulator (``adapters/asycuda/simulator``, ``adapters/wco_xml/simulator``) answers its national
protocol plus the same control API, which the adapters' contract handles drive:

=======  ===============================  ==============================================================
GET      /control                         200 the controls (and what the simulator adds: counts...)
POST     /control                         JSON, partial: any of ``down``, ``delay``, ``failure_rate``,
                                          ``reject_next``; 200 as GET, 400 ``{"error": ...}`` naming the
                                          key (nothing is changed then)
GET      /control/registrations?key=K     200 ``{"key": K, "count": n}``; without key the simulator's
                                          totals, or 400 when it has none
GET      /control/calls?after=N           200 the calls received, in order (see :class:`CallLog`); only
                                          where the simulator keeps a call log
GET      /health                          200 ``{"status": "ok", ...}``; see :func:`control_routes` for down
=======  ===============================  ==============================================================

A simulator keeps one :class:`Controls`, splices :func:`control_routes` into its app, and plays the
controls in its protocol handler::

    controls = Controls()

    async def declarations(request: Request) -> Response:
        trouble = controls.trouble(rng)           # "down", "failure" (drawn at failure_rate) or None
        if trouble is not None:
            return Response("try later", 503, headers={"Retry-After": "30"})
        reject = controls.take_rejection()        # decided on arrival, before the delay
        await controls.pause()                    # the delay
        ...

    app = Starlette(routes=[Route("/declarations", declarations, methods=["POST"]),
                            *control_routes(controls, registrations=store.count, health={"member": "NZ"})])

A :class:`CallLog` passed to :func:`control_routes` (``calls=``) and wrapped around the protocol handler
(``with calls.record(key): ...``) shows which calls were in flight together, read-only: how much concurrency a
client really used, and the order in which one declaration's versions arrived.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["MAX_DELAY", "Call", "CallLog", "Controls", "Trouble", "control_routes"]

MAX_DELAY = 3600.0
"""The longest ``delay`` a simulator accepts, in seconds."""

Trouble = Literal["down", "failure"]
"""Why a request fails before it is handled: the system is down, or a simulated failure was drawn."""


@dataclass(slots=True)
class Controls:
    """The knobs of ``/control``: take the system down, slow it, make it fail or refuse.

    Attributes:
        down: the system is unavailable (HTTP simulators answer 503; a hot folder picks nothing up).
        delay: seconds to wait before answering a declaration (0 to ``MAX_DELAY``).
        failure_rate: share of declarations (0 to 1) that fail at random.
        reject_next: refuse the next n declarations under a business rule.

    Raises:
        ValueError: an initial value of the wrong type or out of range; the message names the key.
    """

    down: bool = False
    delay: float = 0.0
    failure_rate: float = 0.0
    reject_next: int = 0

    def __post_init__(self) -> None:
        self.update(self.as_dict())

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a partial update (a ``POST /control`` body), all or nothing.

        Args:
            changes: some of ``down`` (bool), ``delay`` (seconds, 0 to ``MAX_DELAY``), ``failure_rate``
                (0 to 1), ``reject_next`` (whole number from 0).

        Raises:
            ValueError: an unknown key, or a value of the wrong type or out of range; the message names
                the key, and nothing is changed.
        """
        known = list(self.as_dict())
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown control(s) {', '.join(unknown)}; known: {', '.join(known)}")
        checked = {name: _check(name, value) for name, value in changes.items()}
        for name, value in checked.items():
            setattr(self, name, value)

    def take_rejection(self) -> bool:
        """Return whether this declaration is to be refused under ``reject_next``, counting it down."""
        if self.reject_next <= 0:
            return False
        self.reject_next -= 1
        return True

    def trouble(self, rng: random.Random) -> Trouble | None:
        """Return why the request now arriving fails before it is handled, or None when it is to be handled.

        Args:
            rng: draws the simulated failures (nothing is drawn while ``failure_rate`` is 0).
        """
        if self.down:
            return "down"
        if self.failure_rate and rng.random() < self.failure_rate:
            return "failure"
        return None

    async def pause(self) -> None:
        """Wait ``delay`` seconds (at once when it is 0)."""
        if self.delay:
            await asyncio.sleep(self.delay)

    def as_dict(self) -> dict[str, Any]:
        """Return the knobs as the control API shows them."""
        return asdict(self)


@dataclass(slots=True)
class Call:
    """One call a simulator received: its idempotency key, and when it began and ended.

    Attributes:
        key: the request's idempotency key ("" without one).
        started: the number of the event "it arrived" in the log's one sequence of events (arrivals and answers).
        ended: that of "it was answered" (after the delay, whatever the answer); None while in flight.
    """

    key: str
    started: int
    ended: int | None = None


class CallLog:
    """The calls a simulator received, in order of arrival, with the events numbered in one sequence.

    Two calls were in flight together when one arrived before the other was answered; a client that makes
    one call at a time never has two. Numbers, not clock times: under one event loop the order is exact.

    Args:
        limit: calls kept (the oldest are forgotten first); the counts cover every call.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._events = itertools.count(1)
        self._calls: deque[Call] = deque(maxlen=limit)
        self.in_flight = 0
        self.peak = 0
        self.last_event = 0

    @contextmanager
    def record(self, key: str) -> Iterator[Call]:
        """Note a call's arrival, and its end when the block is left (by an answer or an error).

        Args:
            key: its idempotency key.
        """
        call = Call(key, self._next())
        self._calls.append(call)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            yield call
        finally:
            self.in_flight -= 1
            call.ended = self._next()

    def after(self, event: int) -> list[Call]:
        """Return the calls that arrived after event number ``event`` (0: all those kept), in order of arrival.

        Args:
            event: a :attr:`last_event` read before.
        """
        return [c for c in self._calls if c.started > event]

    def snapshot(self, event: int = 0) -> dict[str, Any]:
        """Return what ``GET /control/calls?after=event`` answers.

        Args:
            event: only the calls that arrived after this event.
        """
        return {"calls": [asdict(c) for c in self.after(event)], "in_flight": self.in_flight, "peak": self.peak,
                "last_event": self.last_event}

    def _next(self) -> int:
        self.last_event = next(self._events)
        return self.last_event


def control_routes(controls: Controls, *, registrations: Callable[[str], int],
                   totals: Callable[[], Mapping[str, Any]] | None = None,
                   report: Callable[[], Mapping[str, Any]] | None = None,
                   health: Mapping[str, Any] | None = None, down_is_unhealthy: bool = False,
                   calls: CallLog | None = None) -> list[Route]:
    """Return the routes of ``/control``, ``/control/registrations`` and ``/health`` (see the module docstring).

    Args:
        controls: the simulator's controls, changed in place by ``POST /control``.
        registrations: how many times the simulator registered an idempotency key.
        totals: the body of ``GET /control/registrations`` without a key; None answers that with 400.
        report: more fields of the ``/control`` answers, after the controls (the member, counts...).
        health: the fields of ``/health`` after ``status`` (the member...).
        down_is_unhealthy: False: ``/health`` is the process's liveness, always 200 ``{"status": "ok",
            ...health, "down": bool}``; True: it reports the simulated outage, 503 ``{"status": "down",
            ...health}`` while down, 200 ``{"status": "ok", ...health}`` otherwise.
        calls: the simulator's call log: ``GET /control/calls?after=N`` answers 200 ``{"calls": [{"key",
            "started", "ended"}...], "in_flight", "peak", "last_event"}`` (400 when N is not a whole number
            from 0); no such route without one.
    """
    details = dict(health or {})

    def snapshot() -> dict[str, Any]:
        return {**controls.as_dict(), **(report() if report else {})}

    async def control(request: Request) -> Response:
        if request.method == "POST":
            try:
                changes = json.loads(await request.body() or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("the body must be a JSON object")
                controls.update(changes)
            except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(snapshot())

    async def registered(request: Request) -> Response:
        key = request.query_params.get("key")
        if key:
            return JSONResponse({"key": key, "count": registrations(key)})
        if totals is None:
            return JSONResponse({"error": "query parameter key is required"}, status_code=400)
        return JSONResponse(dict(totals()))

    async def alive(request: Request) -> Response:
        if not down_is_unhealthy:
            return JSONResponse({"status": "ok", **details, "down": controls.down})
        if controls.down:
            return JSONResponse({"status": "down", **details}, status_code=503)
        return JSONResponse({"status": "ok", **details})

    async def called(request: Request) -> Response:
        assert calls is not None
        after = request.query_params.get("after", "0")
        if not after.isdigit():
            return JSONResponse({"error": f"after must be a whole number from 0, not {after!r}"}, status_code=400)
        return JSONResponse(calls.snapshot(int(after)))

    routes = [Route("/control", control, methods=["GET", "POST"]),
              Route("/control/registrations", registered, methods=["GET"]),
              Route("/health", alive, methods=["GET"])]
    if calls is not None:
        routes.append(Route("/control/calls", called, methods=["GET"]))
    return routes


def _check(name: str, value: Any) -> Any:
    """Return ``value`` as control ``name`` holds it (delay and failure_rate as floats).

    Raises:
        ValueError: it is of the wrong type or out of range; the message names the key.
    """
    if name == "down":
        if not isinstance(value, bool):
            raise ValueError(f"down must be true or false, not {value!r}")
        return value
    if name == "reject_next":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"reject_next must be a whole number from 0, not {value!r}")
        return value
    high = MAX_DELAY if name == "delay" else 1.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 <= value <= high:
        raise ValueError(f"{name} must be a number from 0 to {high:g}, not {value!r}")
    return float(value)
