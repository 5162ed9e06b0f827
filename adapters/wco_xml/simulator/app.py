"""The simulated single window as a Starlette app: ``POST /declarations`` plus the control API.

- ``POST /declarations``: a WCO DM declaration (``Idempotency-Key`` and ``X-OCO-Tracking-Id`` headers).
  HTTP 201 + Response 01 registered (with customs reference, acceptance time and GST); HTTP 200 + the
  original Response and ``Idempotent-Replayed: true`` for a key registered before; HTTP 422 + Response 03
  refused (schema or business rules, or ``reject_next``); HTTP 503 while down or on a random failure.
  Only registrations are remembered: a refused declaration is judged afresh when it comes again.
- ``GET /control``, ``POST /control`` (JSON, partial): ``{"down", "delay", "failure_rate", "reject_next"}``.
- ``GET /control/registrations?key=K``: ``{"key": K, "count": n}``.
- ``GET /control/calls?after=N``: the declarations received, in order, each with when it arrived and was
  answered (:class:`gateway.sdk.simkit.CallLog`).
- ``GET /health``: ``{"status": "ok", "member": ..., "down": ...}`` (alive even while simulating an outage).

The control, registrations and health endpoints are :func:`gateway.sdk.simkit.control_routes`.

Registrations live in a registration book (:class:`gateway.sdk.registry.RegistrationBook`: SQLite, in a file with
``--state FILE``). The LRN is unique per declarant: a second original (FunctionCode 9) under a
``FunctionalReferenceID`` the declarant already registered with other content is refused (``TSW-DUPLICATE-LRN``,
pointing to ``FunctionalReferenceID``); amendments and cancellations (13) are not.
"""

from __future__ import annotations

import random
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.wco_xml.simulator.rules import DeclarationJudge
from adapters.wco_xml.simulator.state import Registrations
from gateway.errors import Issue
from gateway.responses import TaxDue, build_response
from gateway.sdk.registry import content_digest
from gateway.sdk.simkit import CallLog, Controls, control_routes

__all__ = ["create_app"]

_XML = "application/xml"


def create_app(member: str, *, profiles_dir: str | Path | None = None, controls: Controls | None = None,
               rng: random.Random | None = None, state: str | Path | None = None) -> Starlette:
    """Build the simulator of one member's single window.

    Args:
        member: the member code it serves (``NZ``).
        profiles_dir: the profiles folder; default the gateway's.
        controls: initial knobs (``--down``, ``--delay``); default all off.
        rng: random source of ``failure_rate`` (tests pass a seeded one).
        state: the SQLite file of the registrations (kept across restarts); None: in memory.

    Raises:
        ProfileError: the profiles cannot be loaded.
        ValueError: ``state`` is not a registration book; the message names the file.
    """
    judge = DeclarationJudge(member, profiles_dir)
    knobs = controls or Controls()
    registered = Registrations(member, state)
    draw = rng or random.Random()
    calls = CallLog()

    async def declarations(request: Request) -> Response:
        with calls.record(request.headers.get("Idempotency-Key", "")):
            return await _declaration(request)

    async def _declaration(request: Request) -> Response:
        trouble = knobs.trouble(draw)
        if trouble == "down":
            return Response("the single window is down", 503, headers={"Retry-After": "30"})
        if trouble == "failure":
            return Response("temporary failure, try again", 503, headers={"Retry-After": "5"})
        key = request.headers.get("Idempotency-Key", "")
        tracking_id = request.headers.get("X-OCO-Tracking-Id") or "unknown"
        payload = await request.body()
        # Decided on arrival, so a request still sleeping off an old delay cannot take a rejection meant
        # for a later one; a redelivery of a registered key takes none.
        reject = registered.answer_for(key) is None and knobs.take_rejection()
        await knobs.pause()
        # From here to record() nothing awaits: two concurrent deliveries of a key cannot both register.
        earlier = registered.replay(key) if key else None
        if earlier is not None:
            return Response(earlier, 200, media_type=_XML, headers={"Idempotent-Replayed": "true"})
        verdict = judge(payload)
        issues = list(verdict.issues)
        if not key:
            issues.append(Issue("TSW-NO-IDEMPOTENCY-KEY", "the Idempotency-Key header is required"))
        if reject:
            issues.append(Issue("TSW-REJECTED", "refused by a business rule of the simulated single window "
                                                "(reject_next)"))
        digest = content_digest(payload)
        taken = registered.taken(verdict.declarant or "", verdict.lrn, verdict.function_code or "", digest) \
            if not issues and verdict.lrn else None
        if taken is not None:
            registered.book.bump("refused:duplicate-lrn")
            issues.append(Issue(f"{judge.prefix}-DUPLICATE-LRN", f"LRN {verdict.lrn} is already registered for "
                                f"declarant {verdict.declarant} (customs reference {taken.reference}) with other "
                                "content: an LRN is unique per declarant; use a new one, or amend the registered "
                                "declaration (FunctionCode 13)",
                                path="/md:MetaData/dec:Declaration/dec:FunctionalReferenceID"))
        if issues:
            body = build_response(status="rejected", tracking_id=tracking_id, lrn=verdict.lrn, member=member,
                                  issues=issues)
            return Response(body, 422, media_type=_XML)
        reference, accepted_at = registered.next_reference()
        taxes = [TaxDue("GST", amount, currency, f"A{reference}") for amount, currency in verdict.gst]
        body = build_response(status="accepted", tracking_id=tracking_id, lrn=verdict.lrn, member=member,
                              declaration_id=reference, accepted_at=accepted_at, taxes=taxes)
        registered.record(key, body, reference=reference, declarant=verdict.declarant or "", lrn=verdict.lrn or "",
                          function_code=verdict.function_code or "", digest=digest)
        return Response(body, 201, media_type=_XML)

    return Starlette(routes=[Route("/declarations", declarations, methods=["POST"]),
                             *control_routes(knobs, registrations=registered.count, health={"member": member},
                                             calls=calls)])
