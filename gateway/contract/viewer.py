"""Serve the AsyncAPI document: ``/asyncapi`` (a viewer page), ``/asyncapi.yaml``, and the viewer's own files.

The viewer (AsyncAPI's React component, its browser bundle) is packaged under ``static/`` and served by the
gateway itself: the page names no outside URL, so it works where the gateway has no way out to a CDN.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import Any

from faststream.asgi import AsgiResponse, get

from gateway.contract.document import render

__all__ = ["STATIC", "asyncapi_routes", "viewer_page"]

STATIC = {
    "/asyncapi/static/asyncapi-react.js": ("asyncapi-react.js", "text/javascript; charset=utf-8"),
    "/asyncapi/static/asyncapi-react.css": ("asyncapi-react.css", "text/css; charset=utf-8"),
    "/asyncapi/static/LICENSE": ("LICENSE", "text/plain; charset=utf-8"),
}
"""Path served → (file under ``gateway/contract/static/``, content type)."""

_CONFIG = {"show": {"sidebar": True, "info": True, "servers": True, "operations": True, "messages": True,
                    "schemas": True, "errors": True},
           "expand": {"messageExamples": True},
           "sidebar": {"showServers": "byDefault", "showOperations": "byDefault"}}


def viewer_page(document: dict[str, Any]) -> str:
    """Return the HTML page that shows ``document`` with the packaged viewer (relative URLs only).

    Args:
        document: the AsyncAPI document, embedded in the page.
    """
    # "</" would end the script element early; JSON allows "<\/".
    data = json.dumps({"schema": document, "config": _CONFIG}, ensure_ascii=False).replace("</", "<\\/")
    title = html.escape(str(document.get("info", {}).get("title", "AsyncAPI")))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}: Kafka contract (AsyncAPI)</title>
<link rel="stylesheet" href="asyncapi/static/asyncapi-react.css">
</head>
<body>
<p style="font-family: sans-serif; margin: 0.5em 1em">The document itself: <a href="asyncapi.yaml">asyncapi.yaml</a>.</p>
<div id="asyncapi"></div>
<script src="asyncapi/static/asyncapi-react.js"></script>
<script>AsyncApiStandalone.render({data}, document.getElementById("asyncapi"));</script>
</body>
</html>
"""


def asyncapi_routes(document: Callable[[], dict[str, Any]]) -> list[tuple[str, Any]]:
    """Return the ASGI routes that serve the document (built on first use, then kept) and the viewer.

    Args:
        document: builds the AsyncAPI document (``gateway.contract.document.build_document``).
    """
    built = cache(document)

    @get(include_in_schema=False)
    async def page(scope: Any) -> AsgiResponse:
        return AsgiResponse(viewer_page(built()).encode(), 200, headers={"content-type": "text/html; charset=utf-8"})

    @get(include_in_schema=False)
    async def as_yaml(scope: Any) -> AsgiResponse:
        return AsgiResponse(render(built()).encode(), 200, headers={"content-type": "application/yaml; charset=utf-8"})

    routes: list[tuple[str, Any]] = [("/asyncapi", page), ("/asyncapi.yaml", as_yaml)]
    for path, (name, content_type) in STATIC.items():
        routes.append((path, _static(name, content_type)))
    return routes


def _static(name: str, content_type: str) -> Any:
    @cache
    def body() -> bytes:
        return files("gateway.contract").joinpath("static").joinpath(name).read_bytes()

    @get(include_in_schema=False)
    async def serve(scope: Any) -> AsgiResponse:
        return AsgiResponse(body(), 200, headers={"content-type": content_type, "cache-control": "max-age=86400"})
    return serve
