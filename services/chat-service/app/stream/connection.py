"""One open stream as the hub holds it, and the SSE frame it is written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Send = Callable[[dict[str, Any]], Awaitable[None]]


def frame(entry_id: str, event: str, data: str) -> bytes:
    """One SSE event."""
    return f"id: {entry_id}\nevent: {event}\ndata: {data}\n\n".encode()


class Connection:
    """One open stream."""

    __slots__ = (
        "closed",
        "dirty",
        "expires_at",
        "issued_at",
        "last_id",
        "number",
        "pumping",
        "replaying",
        "reset",
        "resumed",
        "send",
        "sid",
        "slice",
        "user_id",
    )

    def __init__(
        self,
        user_id: int,
        send: Send,
        expires_at: float,
        heartbeat_slice: int = 0,
        *,
        number: int = 0,
        sid: str | None = None,
        issued_at: int = 0,
    ) -> None:
        self.user_id = user_id
        self.number = number  # opening order in this process: names the stream, and the oldest is pushed out
        #: The session that opened the stream, and when its token was issued: the stream ends with it.
        self.sid = sid
        self.issued_at = issued_at
        self.slice = heartbeat_slice
        self.send = send
        self.expires_at = expires_at
        self.last_id = "0-0"
        self.pumping = True  # until the endpoint has replayed, wake-ups only mark the connection dirty
        self.dirty = False
        self.replaying = False
        self.reset = False  # the user's log lost events: send ``reset`` before anything else
        #: The hub's subscription came back after a break: before reading on, check that the log still holds
        #: this stream's position (a Redis that restarted empty does not), else send ``reset``.
        self.resumed = False
        self.closed: str | None = None

    async def write(self, body: bytes) -> None:
        await self.send({"type": "http.response.body", "body": body, "more_body": True})
