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
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["MAX_DELAY", "Controls", "Trouble", "control_routes"]

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


def control_routes(controls: Controls, *, registrations: Callable[[str], int],
                   totals: Callable[[], Mapping[str, Any]] | None = None,
                   report: Callable[[], Mapping[str, Any]] | None = None,
                   health: Mapping[str, Any] | None = None, down_is_unhealthy: bool = False) -> list[Route]:
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

    return [Route("/control", control, methods=["GET", "POST"]),
            Route("/control/registrations", registered, methods=["GET"]),
            Route("/health", alive, methods=["GET"])]


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
