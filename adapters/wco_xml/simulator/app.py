"""The simulated single window as a Starlette app: ``POST /declarations`` plus the control API.

- ``POST /declarations``: a WCO DM declaration (``Idempotency-Key`` and ``X-OCO-Tracking-Id`` headers).
  HTTP 201 + Response 01 registered (with customs reference, acceptance time and GST); HTTP 200 + the
  original Response and ``Idempotent-Replayed: true`` for a key registered before; HTTP 422 + Response 03
  refused (schema or business rules, or ``reject_next``); HTTP 503 while down or on a random failure.
  Only registrations are remembered: a refused declaration is judged afresh when it comes again.
- ``GET /control``, ``POST /control`` (JSON, partial): ``{"down", "delay", "failure_rate", "reject_next"}``.
- ``GET /control/registrations?key=K``: ``{"key": K, "count": n}``.
- ``GET /health``: ``{"status": "ok", "member": ..., "down": ...}`` (alive even while simulating an outage).
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.wco_xml.simulator.rules import DeclarationJudge
from adapters.wco_xml.simulator.state import Controls, Registrations
from gateway.errors import Issue
from gateway.responses import TaxDue, build_response

__all__ = ["create_app"]

_XML = "application/xml"


def create_app(member: str, *, profiles_dir: str | Path | None = None, controls: Controls | None = None,
               rng: random.Random | None = None) -> Starlette:
    """Build the simulator of one member's single window.

    Args:
        member: the member code it serves (``NZ``).
        profiles_dir: the profiles folder; default the gateway's.
        controls: initial knobs (``--down``, ``--delay``); default all off.
        rng: random source of ``failure_rate`` (tests pass a seeded one).

    Raises:
        ProfileError: the profiles cannot be loaded.
    """
    judge = DeclarationJudge(member, profiles_dir)
    knobs = controls or Controls()
    registered = Registrations(member)
    draw = rng or random.Random()

    async def declarations(request: Request) -> Response:
        if knobs.down:
            return Response("the single window is down", 503, headers={"Retry-After": "30"})
        if knobs.failure_rate and draw.random() < knobs.failure_rate:
            return Response("temporary failure, try again", 503, headers={"Retry-After": "5"})
        key = request.headers.get("Idempotency-Key", "")
        tracking_id = request.headers.get("X-OCO-Tracking-Id") or "unknown"
        payload = await request.body()
        # Decided on arrival, so a request still sleeping off an old delay cannot take a rejection meant
        # for a later one; a redelivery of a registered key takes none.
        reject = registered.answer_for(key) is None and knobs.take_rejection()
        if knobs.delay:
            await asyncio.sleep(knobs.delay)
        # From here to record() nothing awaits: two concurrent deliveries of a key cannot both register.
        earlier = registered.answer_for(key) if key else None
        if earlier is not None:
            return Response(earlier, 200, media_type=_XML, headers={"Idempotent-Replayed": "true"})
        verdict = judge(payload)
        issues = list(verdict.issues)
        if not key:
            issues.append(Issue("TSW-NO-IDEMPOTENCY-KEY", "the Idempotency-Key header is required"))
        if reject:
            issues.append(Issue("TSW-REJECTED", "refused by a business rule of the simulated single window "
                                                "(reject_next)"))
        if issues:
            body = build_response(status="rejected", tracking_id=tracking_id, lrn=verdict.lrn, member=member,
                                  issues=issues)
            return Response(body, 422, media_type=_XML)
        reference, accepted_at = registered.next_reference()
        taxes = [TaxDue("GST", verdict.gst[0], verdict.gst[1], f"A{reference}")] if verdict.gst else []
        body = build_response(status="accepted", tracking_id=tracking_id, lrn=verdict.lrn, member=member,
                              declaration_id=reference, accepted_at=accepted_at, taxes=taxes)
        registered.record(key, body)
        return Response(body, 201, media_type=_XML)

    async def control(request: Request) -> Response:
        if request.method == "POST":
            try:
                changes = json.loads(await request.body() or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("expected a JSON object")
                knobs.update(changes)
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse(knobs.as_dict())

    async def registrations(request: Request) -> Response:
        key = request.query_params.get("key")
        if not key:
            return JSONResponse({"error": "query parameter key is required"}, 400)
        return JSONResponse({"key": key, "count": registered.count(key)})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "member": member, "down": knobs.down})

    return Starlette(routes=[
        Route("/declarations", declarations, methods=["POST"]),
        Route("/control", control, methods=["GET", "POST"]),
        Route("/control/registrations", registrations, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ])
