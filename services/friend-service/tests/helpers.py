"""Small helpers building data and observing events in friend-service's tests."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from app.core.state import State
from app.repositories.users import UserReplica
from chat_shared.db import commit
from chat_shared.events.topics import FRIEND_EVENTS
from chat_shared.testing.broker import read_events
from chat_shared.testing.tokens import TestKeys

# High ids, different every session: never collide with real user-service ids (1, 2, …) nor with the
# events of an earlier session when KAFKA_BOOTSTRAP points at a long-lived broker.
_ids = itertools.count(1_000_000 + (int(time.time() * 10) % 10_000_000) * 100)

PAIR_FIELDS = ("requester_id", "addressee_id", "user_id", "friend_id", "blocker_id", "blocked_id")


@dataclass
class TestUser:
    """A user known to friend-service's replica, with bearer headers."""

    __test__ = False

    id: int
    username: str
    display_name: str
    headers: dict[str, str]


class UserFactory:
    """Creates users in the replica (as if ``UserRegistered`` had been consumed)."""

    def __init__(self, state: State, keys: TestKeys) -> None:
        self.state = state
        self.keys = keys

    def next_id(self) -> int:
        return next(_ids)

    async def make(self, display_name: str | None = None) -> TestUser:
        user_id = next(_ids)
        username = f"u{user_id}"
        display = display_name or f"User {user_id}"
        async with self.state.sessionmaker() as session:
            await UserReplica(session).upsert_if_newer(user_id, username, display, datetime(2026, 1, 1, tzinfo=UTC))
            await commit(session)
        return TestUser(user_id, username, display, self.keys.headers(user_id, username))

    async def many(self, n: int) -> list[TestUser]:
        return [await self.make() for _ in range(n)]


def involves(event: dict[str, Any], ids: Iterable[int]) -> bool:
    """Whether a friend event names any of ``ids``."""
    wanted = set(ids)
    payload = event.get("payload") or {}
    return any(payload.get(f) in wanted for f in PAIR_FIELDS)


async def friend_events(
    bootstrap: str, ids: Iterable[int], until: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """The ``friend.events`` naming any of ``ids``, once ``until`` holds for them."""
    ids = list(ids)

    def mine(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in events if involves(e, ids)]

    return mine(await read_events(bootstrap, FRIEND_EVENTS, lambda evs: until(mine(evs))))


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["event_type"] for e in events]


async def publish(bootstrap: str, topic: str, value: bytes | dict[str, Any], key: int | str) -> None:
    """Put one record on a topic (as another service's relay would)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        body = value if isinstance(value, bytes) else json.dumps(value).encode()
        await producer.send_and_wait(topic, body, key=str(key).encode())
    finally:
        await producer.stop()


def envelope(event_type: str, payload: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """An event envelope as user-service would write it."""
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "event_version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "producer": "user-service",
        "correlation_id": None,
        "payload": payload,
    }
