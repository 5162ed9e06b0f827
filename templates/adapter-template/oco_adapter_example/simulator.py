"""The example single window, as a simulator built with the gateway's simulator kit: ``oco-gateway simulate example``.

It stands for the national system until you have a test endpoint of the real one, and behaves like it:

- ``POST /api/declarations`` (JSON body, ``Idempotency-Key`` header): 201 ``{"status": "REGISTERED",
  "registrationNumber": ...}``; the same key again: 200 with the first answer and ``"replayed": true``;
  a body it refuses: 422 ``{"status": "REFUSED", "errors": [{"code", "message", "field"}]}``, ``field``
  naming the JSON field (``lines[2].tariff``); a second original under an LRN the declarant already used
  for other content: refused ``DUPLICATE-LRN`` (an LRN is unique per declarant); down or a drawn failure:
  503 "try later".
- Registrations live in the kit's registration book (SQLite; ``--state FILE`` keeps them across restarts).
- The kit's control API (``gateway.sdk.simkit``): ``/control`` (down, delay, failure_rate, reject_next),
  ``/control/registrations?key=K``, ``/control/calls``, ``/health``. The contract suite drives it.

Make its rules yours: what your system refuses (:func:`body_problems`), its limits (``MAX_LINES``), its
answers.
"""

from __future__ import annotations

import json
import random
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.sdk.registry import RegistrationBook, content_digest
from gateway.sdk.simkit import CallLog, Controls, control_routes

__all__ = ["MAX_LINES", "body_problems", "create_app", "example"]

MAX_LINES = 99
"""The most lines one declaration may have: the system's own limit (the adapter refuses more before sending)."""

_TARIFF = re.compile(r"^\d{6,10}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
Problem = tuple[str, str, str]  # (code, field, message)


def _money(field: str, money: Any, *, required: bool) -> list[Problem]:
    if money is None:
        return [("MISSING", field, "required")] if required else []
    if not isinstance(money, dict) or set(money) != {"amount", "currency"}:
        return [("FORMAT", field, "expected {amount, currency}")]
    problems = [] if _CURRENCY.match(str(money["currency"])) else [("CURRENCY", f"{field}.currency", "not ISO 4217")]
    try:
        Decimal(money["amount"])
    except (InvalidOperation, TypeError):
        problems.append(("FORMAT", f"{field}.amount", "not a decimal number"))
    return problems


def body_problems(body: Any) -> list[Problem]:
    """Return what the system refuses in a body, as (code, field, message); empty when it takes it.

    Args:
        body: the decoded JSON.
    """
    if not isinstance(body, dict):
        return [("FORMAT", "", "the body is not a JSON object")]
    problems = [("MISSING", key, "required") for key in ("lrn", "procedure", "office", "declarant", "lines")
                if not body.get(key)]
    problems += _money("invoice", body.get("invoice"), required=True)
    if not isinstance(body.get("declarant"), dict) or not body["declarant"].get("tin"):
        problems.append(("MISSING", "declarant.tin", "required"))
    lines = body.get("lines") or []
    if len(lines) > MAX_LINES:
        problems.append(("TOO-MANY-LINES", "lines", f"at most {MAX_LINES} lines"))
    if [line.get("line") for line in lines] != list(range(1, len(lines) + 1)):
        problems.append(("FORMAT", "lines", "not numbered 1..n"))
    for n, line in enumerate(lines, start=1):
        if not _TARIFF.match(str(line.get("tariff"))):
            problems.append(("TARIFF", f"lines[{n}].tariff", "not a tariff code of 6 to 10 digits"))
        for key in ("description", "origin"):
            if not line.get(key):
                problems.append(("MISSING", f"lines[{n}].{key}", "required"))
        problems += _money(f"lines[{n}].customsValue", line.get("customsValue"), required=True)
        for t, tax in enumerate(line.get("taxes", []), start=1):
            problems += _money(f"lines[{n}].taxes[{t}].assessed", tax.get("assessed"), required=False)
    return problems


def create_app(member: str, *, book: RegistrationBook | None = None, controls: Controls | None = None,
               rng: random.Random | None = None) -> Starlette:
    """Build the simulated single window of one member.

    Args:
        member: the member code, in the registration numbers.
        book: where registrations are kept (in memory when None).
        controls: the failure controls (a fresh set when None).
        rng: draws the simulated failures.
    """
    book = book or RegistrationBook()
    controls = controls or Controls()
    rng = rng or random.Random()
    calls = CallLog()

    def refused(problems: list[Problem]) -> Response:
        return JSONResponse({"status": "REFUSED", "errors": [
            {"code": code, "field": field, "message": message} for code, field, message in problems]}, 422)

    async def declarations(request: Request) -> Response:
        key = request.headers.get("Idempotency-Key", "")
        with calls.record(key):
            if controls.trouble(rng) is not None:
                return Response("try later", 503, headers={"Retry-After": "5"})
            refuse = controls.take_rejection()  # decided on arrival, before the delay
            await controls.pause()
            earlier = book.replay(key) if key else None
            if earlier is not None:  # a redelivery: the first answer, marked
                return JSONResponse({**json.loads(earlier.answer), "replayed": True})
            raw = await request.body()
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            problems = body_problems(body) if key else [("NO-KEY", "", "the Idempotency-Key header is required")]
            if refuse and not problems:
                problems = [("RULE", "", "refused by a business rule of the simulated single window (reject_next)")]
            if problems:
                return refused(problems)
            declarant, lrn, function = body["declarant"]["tin"], str(body["lrn"]), str(body.get("function") or "9")
            taken = book.conflict(declarant, lrn, function, content_digest(raw))
            if taken is not None:
                return refused([("DUPLICATE-LRN", "lrn", f"declarant {declarant} already used LRN {lrn} for "
                                 f"registration {taken.reference}: give this declaration its own LRN")])
            answer = {"status": "REGISTERED",
                      "registrationNumber": f"{member}-SW-{book.next_number('registration'):06d}"}
            book.register(key, declarant=declarant, lrn=lrn, function_code=function, digest=content_digest(raw),
                          reference=answer["registrationNumber"], answer=json.dumps(answer).encode())
            return JSONResponse(answer, 201)

    return Starlette(routes=[
        Route("/api/declarations", declarations, methods=["POST"]),
        *control_routes(controls, registrations=book.count, calls=calls, totals=book.totals,
                        health={"member": member}),
    ])


@click.command("example")
@click.option("--member", required=True, help="Member code of the simulated single window (VU).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8480, show_default=True, help="TCP port.")
@click.option("--delay", type=click.FloatRange(0, 3600), default=0.0, help="Seconds before each answer.")
@click.option("--down", is_flag=True, help="Start in outage: 503 for every declaration.")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Keep registrations in this SQLite file, across restarts [default: in memory].")
def example(member: str, host: str, port: int, delay: float, down: bool, state: Path | None) -> None:
    """Simulate the example JSON single window (POST /api/declarations; control at /control)."""
    import uvicorn  # here, so `oco-gateway --help` does not load the web server

    try:
        book = RegistrationBook(state)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    app = create_app(member, book=book, controls=Controls(down=down, delay=delay))
    click.echo(f"example single window of {member} on http://{host}:{port}", err=True)
    # A request waiting out a long simulated delay must not hold up the stop.
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=1)
