"""The outbox relay (chat_shared.outbox) with two replicas on one database and the real broker: every event
is published (at least once), the events of one key in the order they were written, and published rows
are purged once their retention has passed (an injected clock)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chat_shared.db import commit, create_engine, create_sessionmaker, utcnow
from chat_shared.events import DomainEvent
from chat_shared.kafka import ProducerHolder
from chat_shared.outbox import PUBLISHED_RETENTION, Outbox, OutboxRecord, OutboxRelay
from chat_shared.settings import ServiceSettings
from chat_shared.testing.broker import create_topics, read_events
from chat_shared.testing.waiting import eventually

ACCOUNTS = 5
PER_ACCOUNT = 40


class Numbered(DomainEvent):
    """The ``seq``-th event of an account; the account is the partition key."""

    account: int
    seq: int

    @property
    def key(self) -> int:
        return self.account


async def events_on_own_topic(bootstrap: str) -> type[Numbered]:
    """The event class of a three-partition topic only this test writes to."""
    own = f"test.relay.{uuid.uuid4().hex[:10]}"
    await create_topics(bootstrap, own, partitions=3)

    class OnOwnTopic(Numbered):
        topic = own

    return OnOwnTopic


@dataclass
class Replica:
    """One service process: its own engine and producer, an outbox and the relay it wakes."""

    sessionmaker: async_sessionmaker[AsyncSession]
    outbox: Outbox
    relay: OutboxRelay

    async def write(self, event: DomainEvent) -> None:
        """Commit ``event`` alone, as a request would with its state change."""
        async with self.sessionmaker() as session:
            self.outbox.add(session, event)
            await commit(session)


@contextlib.asynccontextmanager
async def replica(
    settings: ServiceSettings, name: str, clock: Callable[[], datetime] = utcnow
) -> AsyncIterator[Replica]:
    engine = create_engine(settings.database_url, name)
    producers = ProducerHolder(settings)
    relay = OutboxRelay(create_sessionmaker(engine), producers, name, poll_interval=0.05, clock=clock)
    task = asyncio.create_task(relay.run())
    try:
        yield Replica(create_sessionmaker(engine), Outbox(name, relay), relay)
    finally:
        relay.stop()
        await asyncio.wait_for(task, 30)
        await producers.close()
        await engine.dispose()


async def rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[OutboxRecord]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(OutboxRecord).order_by(OutboxRecord.id))).all())


def first_seen(published: list[dict[str, Any]], account: int) -> list[int]:
    """The account's sequence numbers in the order they first appear on the topic."""
    order: list[int] = []
    for event in published:
        seq = event["payload"]["seq"]
        if event["payload"]["account"] == account and seq not in order:
            order.append(seq)
    return order


async def test_two_relays_publish_every_event_once_or_more_in_key_order(
    settings: ServiceSettings, sessionmaker: async_sessionmaker[AsyncSession], kafka_bootstrap: str
) -> None:
    event = await events_on_own_topic(kafka_bootstrap)
    async with replica(settings, "relay-a") as a, replica(settings, "relay-b") as b:

        async def account_writes(account: int) -> None:
            # Each event of the account through the other replica than the one before.
            for seq in range(1, PER_ACCOUNT + 1):
                await (a, b)[seq % 2].write(event(account=account, seq=seq))

        await asyncio.gather(*(account_writes(account) for account in range(1, ACCOUNTS + 1)))
        written = {row.event_id for row in await rows(sessionmaker)}
        assert len(written) == ACCOUNTS * PER_ACCOUNT
        published = await read_events(kafka_bootstrap, event.topic, lambda evs: written <= {e["event_id"] for e in evs})
        await eventually(
            lambda: _all_marked(sessionmaker), "every row marked published (after the broker acknowledged it)"
        )
    for account in range(1, ACCOUNTS + 1):
        assert first_seen(published, account) == list(range(1, PER_ACCOUNT + 1)), f"account {account}"
        assert {e["_key"] for e in published if e["payload"]["account"] == account} == {str(account)}


async def _all_marked(sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
    return all(row.published_at is not None for row in await rows(sessionmaker))


async def test_published_rows_are_purged_after_their_retention(
    settings: ServiceSettings, sessionmaker: async_sessionmaker[AsyncSession], kafka_bootstrap: str
) -> None:
    event = await events_on_own_topic(kafka_bootstrap)
    async with replica(settings, "relay-today") as today:
        for seq in range(1, 4):
            await today.write(event(account=1, seq=seq))
        await eventually(lambda: _all_marked(sessionmaker), "the first events published")
    old = {row.event_id for row in await rows(sessionmaker)}

    later = utcnow() + PUBLISHED_RETENTION + timedelta(hours=1)
    async with replica(settings, "relay-tomorrow", clock=lambda: later) as tomorrow:
        await tomorrow.write(event(account=1, seq=4))

        async def only_the_new_one_left() -> list[OutboxRecord] | None:
            left = await rows(sessionmaker)
            return left if [row.published_at for row in left] == [later] else None

        left = await eventually(only_the_new_one_left, "the old published rows purged, the new one kept")
    assert not old & {row.event_id for row in left}
