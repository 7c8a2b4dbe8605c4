"""Helpers of the chat-service suite: fresh users, friendships through the consumer path, a real server."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from datetime import UTC, datetime
from itertools import count
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaProducer

from app.core.state import State
from app.kafka import consumers
from chat_shared.consumer import ProcessedEvent
from chat_shared.db import commit
from chat_shared.events import DomainEvent, EventEnvelope
from chat_shared.events import friend as fe
from chat_shared.testing.broker import free_port
from chat_shared.testing.fixtures import StartedApp
from chat_shared.testing.waiting import eventually

_ids = count(random.randint(1, 1_000_000) * 1000)


def new_user() -> int:
    """A user id no other test uses."""
    return next(_ids)


def now() -> datetime:
    return datetime.now(UTC)


async def apply(state: State, event: DomainEvent) -> None:
    """Apply a friend-service event through the permission consumer's handler (same path the consumer runs)."""
    envelope = EventEnvelope.of(event, "friend-service")
    async with state.sessionmaker() as session:
        await consumers.PERMISSION_HANDLERS[type(event)](session, event, envelope)
        session.add(ProcessedEvent(consumer=consumers.PERMISSIONS_GROUP, event_id=str(envelope.event_id)))
        await commit(session)


async def befriend(state: State, a: int, *others: int) -> None:
    """Make ``a`` friends with each of ``others``."""
    for b in others:
        accepted = fe.FriendRequestAccepted(
            request_id=random.randint(1, 10**9), requester_id=a, addressee_id=b, at=now()
        )
        await apply(state, accepted)


async def block(state: State, blocker: int, blocked: int) -> None:
    await apply(state, fe.UserBlocked(blocker_id=blocker, blocked_id=blocked, at=now()))


async def publish(bootstrap: str, event: DomainEvent, producer: str) -> None:
    """Publish an event to the broker on its topic with its key, as ``producer``'s outbox relay would."""
    envelope = EventEnvelope.of(event, producer)
    kafka = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await kafka.start()
    try:
        await kafka.send_and_wait(
            event.topic,
            envelope.model_dump_json().encode(),
            key=str(event.key).encode(),
            headers=[("event_type", envelope.event_type.encode())],
        )
    finally:
        await kafka.stop()


async def dm(client: httpx.AsyncClient, keys: Any, a: int, b: int) -> int:
    response = await client.post("/rooms", json={"type": "direct", "member_ids": [b]}, headers=keys.headers(a))
    assert response.status_code in (200, 201), response.text
    return int(response.json()["id"])


async def send(client: httpx.AsyncClient, keys: Any, user: int, room: int, content: str, **extra: Any) -> Any:
    response = await client.post(
        f"/rooms/{room}/messages", json={"content": content, **extra}, headers=keys.headers(user)
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


class UvicornServer:
    """An app served by uvicorn on a free port inside the test's event loop (lifespan run by the caller)."""

    def __init__(self, app: StartedApp[State]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning", timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[Any] | None = None

    async def start(self) -> None:
        task = self._task = asyncio.create_task(self.server.serve())

        def started() -> bool:
            if task.done():
                raise RuntimeError(f"uvicorn stopped before it started: {task.exception()!r}")
            return self.server.started

        await eventually(started, "uvicorn to start")

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 10)


def event_id() -> str:
    return str(uuid.uuid4())
