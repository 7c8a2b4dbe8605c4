"""The web client's files beside ``/api``: what nginx serves in the compose stack, served by the dev gateway.

Starlette's ``StaticFiles`` does the file work (content types, ETag and Last-Modified, conditional and range
requests, no path escaping the folder); this module adds the cache rules of the nginx image
(``web/nginx.conf``): the hashed files under ``/assets/`` are immutable, everything else (``index.html``)
is revalidated on each load so a new build is picked up at once.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.staticfiles import StaticFiles

from .asgi import Receive, Scope, Send

IMMUTABLE = b"public, max-age=31536000, immutable"
REVALIDATE = b"no-cache"


class StaticSite:
    """An ASGI app serving a built client folder (``web/dist``); ``/`` is its ``index.html``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = StaticFiles(directory=root, html=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cache = IMMUTABLE if scope["path"].startswith("/assets/") else REVALIDATE

        async def with_cache_header(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                message = {**message, "headers": [*message.get("headers", []), (b"cache-control", cache)]}
            await send(dict(message))

        try:
            await self.files(scope, receive, with_cache_header)
        except HTTPException as exc:  # StaticFiles raises its 404 for an application to render
            await PlainTextResponse(exc.detail, status_code=exc.status_code)(scope, receive, with_cache_header)
