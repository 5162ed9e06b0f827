"""A tiny example national system (real HTTP, in-process) to run the adapter contract against.

Replace it with your system's test endpoint when you have one; keep it when you do not.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.sdk import header_value

__all__ = ["ExampleSystem", "serve"]


class ExampleSystem:
    """Registers each Idempotency-Key once; can be made to refuse, go slow or go down.

    Its async methods make it the contract kit's ``national`` handle (``NationalSystem``).
    """

    def __init__(self) -> None:
        self.down, self.delay, self.refuse = False, 0.0, 0
        self.references: dict[str, str] = {}
        self.app = Starlette(routes=[Route("/declarations", self._declarations, methods=["POST"])])

    async def _declarations(self, request: Request) -> Response:
        if self.down:
            return Response("down", 503)
        refuse, delay = self.refuse > 0, self.delay  # decided on arrival, not after an earlier delay
        if refuse:
            self.refuse -= 1
        await asyncio.sleep(delay)
        key, body = request.headers.get("Idempotency-Key", ""), await request.body()
        if key in self.references:
            return JSONResponse({"status": "registered", "reference": self.references[key], "replayed": True})
        if refuse or not key or not body.lstrip().startswith(b"<"):
            return JSONResponse({"status": "rejected", "errors": [{"code": "EX-REFUSED", "message": "refused"}]})
        self.references[key] = f"EX-{len(self.references) + 1:06d}"
        return JSONResponse({"status": "registered", "reference": self.references[key]}, 201)

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
        """Registrations under ``key`` (0 or 1), known as it travelled in the Idempotency-Key header."""
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
            task.result()  # raises why the server could not start
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
