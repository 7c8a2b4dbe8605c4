"""Ephemeral stream events — ``typing``, ``presence.updated`` — across every chat-service process.

They are never stored: no body in the live log, no entry in any user's log, so they are never replayed and
carry no ``id:`` line (a client's Last-Event-ID does not move). A process publishes one message on the
Redis channel ``chat:ephemeral`` naming the recipients; every process is subscribed and writes the event to
the recipients' streams it holds. One channel for the fleet, not one per user: an event costs one
``PUBLISH`` whatever its audience, and each process drops the recipients it does not hold (a set lookup).
An event published while a process is away from Redis is lost for that process's streams — acceptable for
a hint that expires within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from app.core import metrics
from app.stream.hub import Connection, StreamHub, encode_data

log = structlog.get_logger("app.stream.ephemeral")

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
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[Any] | None = None

    async def publish(self, event: str, user_ids: list[int], data: dict[str, Any]) -> None:
        """Send ``event`` to the open streams of ``user_ids`` on every process."""
        if user_ids:
            await self.redis.publish(CHANNEL, encode(event, user_ids, data))
            metrics.EPHEMERAL_PUBLISHED.labels(event).inc()

    async def start(self) -> None:
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(CHANNEL)
        self._task = asyncio.create_task(self._listen(), name="stream-ephemeral-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=2)
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()

    async def _listen(self) -> None:
        assert self._pubsub is not None
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
                if message is None or message.get("type") != "message":
                    continue
                parsed = decode(str(message.get("data", "")))
                if parsed is not None:
                    await self.deliver(*parsed)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: redis-py resubscribes on the next read
                log.warning("ephemeral_listener_failed", error=repr(exc)[:200])
                await asyncio.sleep(0.5)

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
