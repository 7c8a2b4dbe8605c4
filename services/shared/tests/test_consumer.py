"""The consumer runner (chat_shared.consumer) on the real broker and database: idempotent by event_id,
poison events to the DLQ while the consumer keeps going, and a batch that fails applied again one event
at a time."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable

from aiokafka import AIOKafkaProducer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chat_shared.consumer import EventConsumer, ProcessedEvent
from chat_shared.events import DomainEvent, EventEnvelope, dlq
from chat_shared.kafka import ProducerHolder
from chat_shared.settings import ServiceSettings
from chat_shared.testing.broker import create_topics, read_events
from chat_shared.testing.waiting import eventually

from .conftest import Applied


class Named(DomainEvent):
    """An event of the tests: a name to apply (or "poison", which the handler refuses)."""

    name: str

    @property
    def key(self) -> int:
        return 1


async def events_on_own_topic(bootstrap: str) -> type[Named]:
    """The event class of a topic (and its DLQ) only this test writes to: the consumer reads nothing else."""
    own = f"test.consumer.{uuid.uuid4().hex[:10]}"
    await create_topics(bootstrap, own, dlq(own))

    class OnOwnTopic(Named):
        topic = own

    return OnOwnTopic


def record(event: DomainEvent) -> bytes:
    return EventEnvelope.of(event, "test").model_dump_json().encode()


async def produce(bootstrap: str, topic: str, values: list[bytes], *, one_batch: bool = False) -> None:
    """Put records on partition 0 in order; ``one_batch`` sends them as one record batch, which the
    consumer's first fetch then returns whole (one poll, one batch for the runner)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        if one_batch:
            batch = producer.create_batch()
            for value in values:
                assert batch.append(key=b"1", value=value, timestamp=None) is not None
            await (await producer.send_batch(batch, topic, partition=0))
        else:
            for value in values:
                await producer.send_and_wait(topic, value, key=b"1", partition=0)
    finally:
        await producer.stop()


async def applied(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessionmaker() as session:
        return sorted((await session.scalars(select(Applied.name))).all())


async def _equals(value: Awaitable[list[str]], expected: list[str]) -> bool:
    return await value == expected


async def processed(sessionmaker: async_sessionmaker[AsyncSession], group: str) -> set[str]:
    async with sessionmaker() as session:
        rows = await session.scalars(select(ProcessedEvent.event_id).where(ProcessedEvent.consumer == group))
        return set(rows.all())


@contextlib.asynccontextmanager
async def running(consumer: EventConsumer) -> AsyncIterator[None]:
    task = asyncio.create_task(consumer.run())
    try:
        yield
    finally:
        consumer.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def make_consumer(
    settings: ServiceSettings,
    sessionmaker: async_sessionmaker[AsyncSession],
    producers: ProducerHolder,
    event_class: type[Named],
    calls: list[str],
) -> EventConsumer:
    """A consumer whose handler writes an ``applied`` row, and refuses an event named "poison"."""

    async def handler(session: AsyncSession, event: Named, envelope: EventEnvelope) -> None:
        calls.append(event.name)
        if event.name == "poison":
            raise ValueError("cannot apply this one")
        session.add(Applied(event_id=str(envelope.event_id), name=event.name))

    return EventConsumer(
        settings=settings,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        topics=[event_class.topic],
        handlers={event_class: handler},
        sessionmaker=sessionmaker,
        producers=producers,
    )


async def test_duplicates_once_poison_to_dlq_and_keeps_going(
    settings: ServiceSettings,
    sessionmaker: async_sessionmaker[AsyncSession],
    producers: ProducerHolder,
    kafka_bootstrap: str,
) -> None:
    event = await events_on_own_topic(kafka_bootstrap)
    topic = event.topic
    calls: list[str] = []
    consumer = make_consumer(settings, sessionmaker, producers, event, calls)
    first = record(event(name="first"))
    async with running(consumer):
        await produce(kafka_bootstrap, topic, [first, first, b"{not json", record(event(name="poison"))])
        await produce(kafka_bootstrap, topic, [record(event(name="last"))])
        # The handler runs before its batch commits: wait for the commit, while the consumer still runs.
        await eventually(
            lambda: _equals(applied(sessionmaker), ["first", "last"]), "the event after the poison one committed"
        )
    assert "last" in calls
    dead = await read_events(kafka_bootstrap, dlq(topic), lambda evs: len(evs) >= 2)
    assert [e["_headers"]["dlq.group"] for e in dead] == [consumer.group_id] * 2
    malformed, poison = dead
    assert malformed["_raw"] == "{not json" and "malformed" in malformed["_headers"]["dlq.error"]
    assert poison["payload"]["name"] == "poison" and "cannot apply" in poison["_headers"]["dlq.error"]


async def test_a_failing_batch_is_applied_one_event_at_a_time(
    settings: ServiceSettings,
    sessionmaker: async_sessionmaker[AsyncSession],
    producers: ProducerHolder,
    kafka_bootstrap: str,
) -> None:
    """One poll, one transaction; a poison event rolls it back, and the runner applies the events one by
    one: the others land once each, the poison one goes to the DLQ after its attempts."""
    event = await events_on_own_topic(kafka_bootstrap)
    calls: list[str] = []
    envelopes = [EventEnvelope.of(event(name=name), "test") for name in ("first", "second", "poison", "third")]
    await produce(kafka_bootstrap, event.topic, [e.model_dump_json().encode() for e in envelopes], one_batch=True)
    consumer = make_consumer(settings, sessionmaker, producers, event, calls)
    async with running(consumer):
        await eventually(lambda: "third" in calls, "the event after the poison one")
        dead = await read_events(kafka_bootstrap, dlq(event.topic), lambda evs: len(evs) >= 1)
    # The batch up to the poison event, rolled back; then each event alone, the poison one three times.
    assert calls == ["first", "second", "poison", "first", "second", "poison", "poison", "poison", "third"]
    assert await applied(sessionmaker) == ["first", "second", "third"]
    good = {str(e.event_id) for e in envelopes if e.payload["name"] != "poison"}
    assert await processed(sessionmaker, consumer.group_id) == good
    assert [e["event_id"] for e in dead] == [str(envelopes[2].event_id)]
    assert "cannot apply" in dead[0]["_headers"]["dlq.error"]
