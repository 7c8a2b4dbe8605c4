"""Helpers that play the other services in notification-service's tests: they publish the events
user-service, chat-service and friend-service would publish, and wait for their effect."""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from app.core.state import State
from app.models.delivery import Push
from app.models.replica import Block, Member, ReplicaUser
from chat_shared.events.base import DomainEvent
from chat_shared.events.chat import (
    MessageSent,
    MessageSnapshot,
    NotifyLevel,
    RoomCreated,
    RoomSettingsChanged,
)
from chat_shared.events.envelope import EventEnvelope
from chat_shared.events.friend import UserBlocked
from chat_shared.events.user import UserOffline, UserOnline, UserRegistered
from chat_shared.testing.tokens import TestKeys
from chat_shared.testing.waiting import eventually
from tests.fakes.push_receiver import PushReceiver

# High ids, different every session: never collide with the events of an earlier session on a long-lived broker.
_ids = itertools.count(1_000_000 + (int(time.time() * 10) % 10_000_000) * 100)


def next_id() -> int:
    return next(_ids)


async def publish(bootstrap: str, *events: DomainEvent, producer_name: str = "test") -> None:
    """Put events on their topics, keyed as their producers key them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            envelope = EventEnvelope.of(event, producer_name)
            await producer.send_and_wait(event.topic, envelope.model_dump_json().encode(), key=str(event.key).encode())
    finally:
        await producer.stop()


async def warm_up_consumers(state: State, bootstrap: str) -> None:
    """Wait until every consumer group applied a first event, so tests time steady-state lag only."""
    now = datetime.now(UTC)
    user_id, room_id = next_id(), next_id()
    await publish(
        bootstrap,
        UserRegistered(user_id=user_id, username=f"w{user_id}", display_name="warm", created_at=now),
        UserOnline(user_id=user_id, at=now),
        RoomCreated(room_id=room_id, type="group", member_ids=[user_id], created_by=user_id, at=now),
        MessageSent.of(snapshot(room_id, 1, user_id, "warm")),
    )

    async def applied() -> bool:
        async with state.sessionmaker() as session:
            return (
                await session.get(ReplicaUser, user_id) is not None
                and await session.get(Member, (room_id, user_id)) is not None
            )

    await eventually(applied, "the replicas to apply a first event", timeout=60)
    await eventually(lambda: state.presence.online([user_id]), "the presence replica to apply a first event")
    push_consumer = next(c for c in state.runtime.consumers if c.group_id.endswith(".pushes"))
    await eventually(lambda: push_consumer.running.is_set(), "the push consumer to run")


def snapshot(
    room_id: int, seq: int, sender_id: int, content: str | None, mentions: list[int] | None = None
) -> MessageSnapshot:
    return MessageSnapshot(
        id=uuid.uuid4().hex,
        room_id=room_id,
        seq=seq,
        sender_id=sender_id,
        content=content,
        message_type="text",
        client_msg_id=None,
        created_at=datetime.now(UTC),
        edited_at=None,
        deleted=False,
        reactions={},
        mentions=mentions or [],
        version=1,
    )


@dataclass
class Person:
    id: int
    name: str
    headers: dict[str, str]


class World:
    """Users, rooms and messages, made through the events the other services publish."""

    def __init__(self, state: State, keys: TestKeys, bootstrap: str, receiver: PushReceiver) -> None:
        self.state = state
        self.keys = keys
        self.bootstrap = bootstrap
        self.receiver = receiver
        self._seq: dict[int, int] = {}

    async def people(self, n: int, online: bool = False) -> list[Person]:
        now = datetime.now(UTC)
        people = [Person(i, f"Person {i}", self.keys.headers(i, f"p{i}")) for i in (next_id() for _ in range(n))]
        events: list[DomainEvent] = [
            UserRegistered(user_id=p.id, username=f"p{p.id}", display_name=p.name, created_at=now) for p in people
        ]
        events += [(UserOnline if online else UserOffline)(user_id=p.id, at=now) for p in people]
        await publish(self.bootstrap, *events)

        async def replicated() -> bool:
            async with self.state.sessionmaker() as session:
                count = await session.scalar(select(func.count()).where(ReplicaUser.id.in_([p.id for p in people])))
            return count == n

        await eventually(replicated, "the users to be replicated")
        return people

    async def set_online(self, person: Person, online: bool) -> None:
        await publish(self.bootstrap, (UserOnline if online else UserOffline)(user_id=person.id, at=datetime.now(UTC)))
        await eventually(
            lambda: self._is_online(person.id, online), f"presence of {person.id} to be {'on' if online else 'off'}line"
        )

    async def _is_online(self, user_id: int, online: bool) -> bool:
        return (user_id in await self.state.presence.online([user_id])) == online

    async def room(self, members: list[Person]) -> int:
        room_id = next_id()
        ids = [p.id for p in members]
        await publish(
            self.bootstrap,
            RoomCreated(room_id=room_id, type="group", member_ids=ids, created_by=ids[0], at=datetime.now(UTC)),
        )

        async def replicated() -> bool:
            async with self.state.sessionmaker() as session:
                count = await session.scalar(select(func.count()).where(Member.room_id == room_id))
            return count == len(ids)

        await eventually(replicated, "the room's members to be replicated")
        self._seq[room_id] = 0
        return room_id

    async def settings(
        self, room_id: int, person: Person, notify: NotifyLevel, muted_until: datetime | None = None
    ) -> None:
        await publish(
            self.bootstrap,
            RoomSettingsChanged(
                room_id=room_id, user_id=person.id, muted_until=muted_until, notify=notify, at=datetime.now(UTC)
            ),
        )

        async def applied() -> bool:
            async with self.state.sessionmaker() as session:
                member = await session.get(Member, (room_id, person.id), populate_existing=True)
            return member is not None and member.notify == notify.value and member.muted_until == muted_until

        await eventually(applied, "the member's settings to be replicated")

    async def block(self, blocker: Person, blocked: Person) -> None:
        await publish(self.bootstrap, UserBlocked(blocker_id=blocker.id, blocked_id=blocked.id, at=datetime.now(UTC)))

        async def applied() -> bool:
            async with self.state.sessionmaker() as session:
                return await session.get(Block, (blocker.id, blocked.id)) is not None

        await eventually(applied, "the block to be replicated")

    async def subscribe(self, client: httpx.AsyncClient, person: Person, name: str | None = None) -> str:
        """Subscribe a new receiver browser for ``person``; its name."""
        name = name or f"b{person.id}-{next_id()}"
        response = await client.post(
            "/notifications/subscriptions", json=self.receiver.subscription(name), headers=person.headers
        )
        assert response.status_code == 201, response.text
        return name

    async def send(
        self, room_id: int, sender: Person, content: str | None = "hello", mentions: list[int] | None = None
    ) -> MessageSnapshot:
        self._seq[room_id] = self._seq.get(room_id, 0) + 1
        message = snapshot(room_id, self._seq[room_id], sender.id, content, mentions)
        await publish(self.bootstrap, MessageSent.of(message))
        return message

    async def queued(self, **where: Any) -> list[Push]:
        async with self.state.sessionmaker() as session:
            query = select(Push)
            for name, value in where.items():
                query = query.where(getattr(Push, name) == value)
            return list(await session.scalars(query))
