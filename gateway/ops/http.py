"""A small HTTP server for a worker process's /metrics, /livez (alias /healthz) and /readyz (starlette on uvicorn)."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from prometheus_client import CollectorRegistry, make_asgi_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

__all__ = ["ops_server"]


def ops_server(registry: CollectorRegistry, ready: Callable[[], bool], *, host: str, port: int) -> uvicorn.Server:
    """Return an uvicorn server (not started) for the operations endpoints.

    Args:
        registry: metrics to expose on /metrics.
        ready: tells whether the process does its job (for /readyz).
        host: listen address.
        port: listen port.
    """

    async def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("alive\n")

    async def readyz(request: Request) -> PlainTextResponse:
        ok = ready()
        return PlainTextResponse("ready\n" if ok else "not ready\n", status_code=200 if ok else 503)

    app = Starlette(routes=[Route("/livez", healthz), Route("/healthz", healthz), Route("/readyz", readyz),
                            Mount("/metrics", make_asgi_app(registry))])
    # log_config=None: uvicorn's lines go through the process's one log stream (gateway.ops.logging), not
    # through plain-text handlers of its own.
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off",
                            log_config=None)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign] # the CLI owns the signals
    return server
