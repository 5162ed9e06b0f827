"""A small Vanuatu single window (real HTTP, served in the test's event loop) that checks the JSON it gets."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.sdk import header_value

__all__ = ["SingleWindow", "body_problems", "serve"]

_TARIFF = re.compile(r"^\d{6,10}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _money_problems(where: str, money: Any, *, required: bool) -> list[str]:
    if money is None:
        return [f"{where}: missing"] if required else []
    if not isinstance(money, dict) or set(money) != {"amount", "currency"}:
        return [f"{where}: expected {{amount, currency}}"]
    problems = [] if _CURRENCY.match(str(money["currency"])) else [f"{where}.currency: not ISO 4217"]
    try:
        Decimal(money["amount"])
    except (InvalidOperation, TypeError):
        problems.append(f"{where}.amount: not a decimal string")
    return problems


def body_problems(body: Any) -> list[str]:
    """Return what the single window refuses in a body (empty when it takes it).

    Args:
        body: the decoded JSON.
    """
    if not isinstance(body, dict):
        return ["the body is not an object"]
    problems = [f"{key}: missing" for key in ("lrn", "procedure", "office", "declarant", "lines") if not body.get(key)]
    problems += _money_problems("invoice", body.get("invoice"), required=True)
    if not isinstance(body.get("declarant"), dict) or not body["declarant"].get("tin"):
        problems.append("declarant.tin: missing")
    for t in body.get("trustedTraders", []):
        if t.get("scheme") not in ("AEOC", "AEOS", "AEOF"):
            problems.append(f"trustedTraders: unknown scheme {t.get('scheme')!r}")
    lines = body.get("lines") or []
    if [line.get("line") for line in lines] != list(range(1, len(lines) + 1)):
        problems.append("lines: not numbered 1..n")
    for n, line in enumerate(lines, start=1):
        if not _TARIFF.match(str(line.get("tariff"))):
            problems.append(f"lines[{n}].tariff: not an HS code")
        if not line.get("description") or not line.get("origin"):
            problems.append(f"lines[{n}]: description and origin required")
        problems += _money_problems(f"lines[{n}].customsValue", line.get("customsValue"), required=True)
        for tax in line.get("taxes", []):
            problems += _money_problems(f"lines[{n}].taxes.assessed", tax.get("assessed"), required=False)
    return problems


class SingleWindow:
    """Registers each Idempotency-Key once, refuses bodies it cannot take; the contract kit's ``national``."""

    def __init__(self) -> None:
        self.down, self.delay, self.refuse = False, 0.0, 0
        self.references: dict[str, str] = {}
        self.bodies: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/api/declarations", self._declarations, methods=["POST"])])

    async def _declarations(self, request: Request) -> Response:
        if self.down:
            return Response("down", 503)
        refuse, delay = self.refuse > 0, self.delay
        if refuse:
            self.refuse -= 1
        await asyncio.sleep(delay)
        key = request.headers.get("Idempotency-Key", "")
        if key in self.references:
            return JSONResponse({"status": "REGISTERED", "registrationNumber": self.references[key], "replayed": True})
        body = await request.json()
        problems = body_problems(body)
        if problems or refuse or not key:
            errors = [{"code": "SW-BODY", "message": p} for p in problems] or [{"code": "SW-RULE", "message": "refused"}]
            return JSONResponse({"status": "REFUSED", "errors": errors})
        self.bodies.append(body)
        self.references[key] = f"VU-SW-{len(self.references) + 1:06d}"
        return JSONResponse({"status": "REGISTERED", "registrationNumber": self.references[key]}, 201)

    async def reject_next(self) -> None:
        """Refuse the next declaration."""
        self.refuse += 1

    async def set_delay(self, seconds: float) -> None:
        """Answer after ``seconds``."""
        self.delay = seconds

    async def set_down(self, down: bool) -> None:
        """Answer HTTP 503 while down."""
        self.down = down

    async def registrations(self, key: str) -> int:
        """Registrations under ``key``, as it travelled in the header."""
        return int(header_value(key) in self.references)


@asynccontextmanager
async def serve(app: Starlette) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn in the running event loop on a free port; yield its base URL.

    Args:
        app: the ASGI app.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
