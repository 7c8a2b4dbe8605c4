"""Ephemeral stream events — ``typing``, ``presence.updated`` — across every chat-service process.

They are never stored: no body in the live log, no entry in any user's log, so they are never replayed and
carry no ``id:`` line (a client's Last-Event-ID does not move). A process publishes one message on the
Redis channel ``chat:ephemeral`` naming the recipients; every process is subscribed and writes the event to
the recipients' streams it holds. One channel for the fleet, not one per user: an event costs one
``PUBLISH`` whatever its audience, and each process drops the recipients it does not hold (a set lookup).
The channel is held by a :class:`~app.stream.subscription.Subscription` of its own (the hub's kind, on a
connection beside the hub's), which re-opens itself whenever Redis goes away and comes back. An event
published while a process is away from Redis is lost for that process's streams — acceptable for a hint
that expires within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from redis.asyncio import Redis

from app.core import metrics
from app.stream.connection import Connection
from app.stream.hub import StreamHub, encode_data
from app.stream.subscription import CONFIRM_TIMEOUT_S, Subscription

CHANNEL = "chat:ephemeral"
TYPING = "typing"
PRESENCE = "presence.updated"
#: A stream that does not take an ephemeral event this fast is skipped (the hub's own writes close it).
WRITE_TIMEOUT_S = 1.0


def ephemeral_frame(event: str, data: str) -> bytes:
    """An SSE event without ``id:``: it does not move the client's Last-Event-ID."""
    return f"event: {event}\ndata: {data}\n\n".encode()


def encode(event: str, user_ids: list[int], data: dict[str, Any]) -> str:
    """The channel message: ``<event> <id,id,…> <data>``."""
    return f"{event} {','.join(map(str, user_ids))} {encode_data(data)}"


def decode(message: str) -> tuple[str, list[int], str] | None:
    """The inverse of :func:`encode`; None for anything else."""
    parts = message.split(" ", 2)
    if len(parts) != 3:
        return None
    try:
        return parts[0], [int(u) for u in parts[1].split(",") if u], parts[2]
    except ValueError:
        return None


class EphemeralBus:
    """Publishes ephemeral events and writes the ones it hears to this process's streams."""

    def __init__(self, redis: Redis, hub: StreamHub) -> None:
        self.redis = redis
        self.hub = hub
        self.subscription = Subscription(redis, self._on_message, lambda: None)
        self.subscription.channels.add(CHANNEL)
        self._task: asyncio.Task[Any] | None = None

    async def publish(self, event: str, user_ids: list[int], data: dict[str, Any]) -> None:
        """Send ``event`` to the open streams of ``user_ids`` on every process."""
        if user_ids:
            await self.redis.publish(CHANNEL, encode(event, user_ids, data))
            metrics.EPHEMERAL_PUBLISHED.labels(event).inc()

    async def start(self) -> None:
        """Hold the channel from now on (connecting in the background, also while Redis is away)."""
        self._task = asyncio.create_task(self.subscription.run(), name="stream-ephemeral-subscription")
        with contextlib.suppress(TimeoutError):  # as the hub does: up now if Redis is, else later
            async with asyncio.timeout(CONFIRM_TIMEOUT_S):
                await self.subscription.first_attempt.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=2)
        await self.subscription.close()

    async def _on_message(self, channel: str, data: str) -> None:
        if channel == CHANNEL and (parsed := decode(data)) is not None:
            await self.deliver(*parsed)

    async def deliver(self, event: str, user_ids: list[int], data: str) -> int:
        """Write the event to this process's open streams of ``user_ids``; returns how many were written."""
        streams: list[Connection] = [
            conn for user_id in user_ids for conn in self.hub.connections.get(user_id, ()) if not conn.closed
        ]
        if not streams:
            return 0
        body = ephemeral_frame(event, data)
        written = 0
        for conn in streams:
            # A client that stopped reading, or is gone, is skipped: the hub's own writes close its stream.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(WRITE_TIMEOUT_S):
                    await conn.write(body)
                written += 1
        metrics.EPHEMERAL_DELIVERED.labels(event).inc(written)
        return written
