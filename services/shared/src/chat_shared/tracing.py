"""Request correlation: ``X-Request-ID`` and W3C ``traceparent`` carried across HTTP and Kafka.

The ids live in context variables for the duration of a request or an event handler, so log lines,
outgoing HTTP calls and events written to the outbox all carry them without being passed around.
"""

from __future__ import annotations

import re
import secrets
import uuid
from contextvars import ContextVar

import structlog

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
traceparent_var: ContextVar[str | None] = ContextVar("traceparent", default=None)


def clean_request_id(value: str | None) -> str:
    """Keep a caller's request id only if it is short and safe to log; otherwise make a new one."""
    if value and _REQUEST_ID_RE.match(value):
        return value
    return uuid.uuid4().hex


def child_traceparent(parent: str | None) -> str:
    """A W3C traceparent for this hop: same trace id as ``parent`` (if valid), a fresh span id."""
    match = _TRACEPARENT_RE.match(parent or "")
    trace_id = match.group(1) if match else secrets.token_hex(16)
    flags = match.group(3) if match else "01"
    return f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"


def trace_id(traceparent: str | None) -> str | None:
    """The trace id part of a traceparent, for log lines."""
    match = _TRACEPARENT_RE.match(traceparent or "")
    return match.group(1) if match else None


def bind(request_id: str, traceparent: str) -> None:
    """Make these ids current for logs, outgoing calls and outbox events."""
    request_id_var.set(request_id)
    traceparent_var.set(traceparent)
    structlog.contextvars.bind_contextvars(request_id=request_id, trace_id=trace_id(traceparent))


def outgoing_headers() -> dict[str, str]:
    """Headers to put on an outgoing HTTP request so the next service joins this trace."""
    headers: dict[str, str] = {}
    if rid := request_id_var.get():
        headers["X-Request-ID"] = rid
    if tp := traceparent_var.get():
        headers["traceparent"] = child_traceparent(tp)
    return headers
