"""Pure ASGI middleware: request id in and out, one JSON access line, Prometheus HTTP metrics; the request
body size limit.

Pure ASGI (not ``BaseHTTPMiddleware``) so streaming responses such as SSE pass through untouched
and the per-request cost stays small.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chat_shared import metrics, tracing

log = structlog.get_logger("chat_shared.access")
_UNLOGGED = frozenset({"/health", "/metrics", "/ready"})
TOO_LARGE = "Request body too large"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            try:
                return str(value.decode("latin-1"))
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
                return None
    return None


def _with_request_id(send: Send, request_id: str) -> Send:
    async def send_wrapper(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
        await send(message)

    return send_wrapper


class RequestContextMiddleware:
    """Sets ``X-Request-ID`` and ``traceparent`` context, logs the request, records metrics."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        self.http = metrics.HttpMetrics(service)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = tracing.clean_request_id(_header(scope, b"x-request-id"))
        if scope.get("path") in _UNLOGGED:
            # Probes and scrapes: only the request id, none of the logging/tracing/metrics work.
            await self.app(scope, receive, _with_request_id(send, request_id))
            return
        structlog.contextvars.clear_contextvars()
        traceparent = tracing.child_traceparent(_header(scope, b"traceparent"))
        tracing.bind(request_id, traceparent)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        start = time.perf_counter()
        in_progress = self.http.in_progress
        in_progress.inc()

        send_with_id = _with_request_id(send, request_id)

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send_with_id(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            in_progress.dec()
            self._record(scope, status, time.perf_counter() - start)

    def _record(self, scope: Scope, status: int, elapsed: float) -> None:
        # Metric and log helpers must never break a request.
        try:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            self.http.observe(method, template, status, elapsed)
            level = logging.WARNING if status >= 500 else logging.INFO
            log.log(
                level,
                "request",
                method=method,
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                user_id=scope.get("state", {}).get("user_id"),
            )
        except Exception:  # pragma: no cover - defensive
            logging.getLogger(__name__).exception("metrics_failed")


class BodyLimitMiddleware:
    """A request body over ``limit`` bytes is a 413 ``{"detail": …}`` before any route reads it.

    The gateway has the same limit; holding it here too keeps a service's own port from buffering an
    unbounded body. A declared ``Content-Length`` is refused at once; a chunked body when its bytes pass
    the limit (raised as an HTTP error, which the framework passes on to chat_shared.errors).
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await JSONResponse({"detail": TOO_LARGE}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, TOO_LARGE)
            return message

        await self.app(scope, counting_receive, send)
