"""The ASGI shapes the gateway's modules pass around, and raw header lookup."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: ASGI headers: lower-case names, in the order they came.
RawHeaders = list[tuple[bytes, bytes]]


def header(headers: RawHeaders, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), or None."""
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None
