"""The shared consumer runner (chat_shared.consumer), exercised on user_db and the real broker:
idempotent by event_id, poison events to the DLQ, the consumer keeps going."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from app.core.state import State
from chat_shared.consumer import EventConsumer
from chat_shared.db import after_commit
from chat_shared.events import EventEnvelope
from chat_shared.events.user import UserProfileUpdated
from chat_shared.testing.broker import read_events
from chat_shared.testing.fixtures import wait_until


def profile_event(user_id: int, name: str) -> bytes:
    payload = UserProfileUpdated(
        user_id=user_id, username=f"u{user_id}", display_name=name, updated_at=datetime.now(UTC)
    )
    return EventEnvelope.of(payload, "test").model_dump_json().encode()


async def test_duplicates_once_poison_to_dlq_and_keeps_going(state: State, kafka_bootstrap: str) -> None:
    seen: list[str] = []

    async def handler(session: Any, event: UserProfileUpdated, envelope: EventEnvelope) -> None:
        if event.display_name == "poison":
            raise ValueError("cannot apply this one")
        # The effect counts only if the handler's transaction commits, like a row the handler writes.
        after_commit(session, lambda: seen.append(event.display_name))

    runtime = state.runtime
    consumer = EventConsumer(
        settings=state.settings,
        group_id=f"test-runner-{uuid.uuid4().hex[:8]}",
        topics=["user.events"],
        handlers={UserProfileUpdated: handler},
        sessionmaker=runtime.sessionmaker,
        producers=runtime.producers,
    )
    task = asyncio.create_task(consumer.run())
    marker = uuid.uuid4().hex[:8]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        first = profile_event(900001, f"first-{marker}")
        for value in (
            first,
            first,
            b"{not json " + marker.encode(),
            profile_event(900001, "poison"),
            profile_event(900001, f"last-{marker}"),
        ):
            await producer.send_and_wait("user.events", value, key=b"900001")
        await wait_until(lambda: f"last-{marker}" in seen, timeout=30)
        assert [s for s in seen if marker in s] == [f"first-{marker}", f"last-{marker}"]
        dead = await read_events(
            kafka_bootstrap,
            "user.events.dlq",
            lambda evs: (
                sum(
                    1
                    for e in evs
                    if marker in e.get("_raw", "") or e.get("payload", {}).get("display_name") == "poison"
                )
                >= 2
            ),
        )
        errors = [e["_headers"]["dlq.error"] for e in dead if marker in e.get("_raw", "")]
        assert errors
        assert "malformed" in errors[0]
        assert any(
            "cannot apply" in e["_headers"]["dlq.error"]
            for e in dead
            if e.get("payload", {}).get("display_name") == "poison"
        )
    finally:
        consumer.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()
