"""Transactional outbox: events are rows written in the same transaction as the state change.

A relay task publishes pending rows in id order with ``acks=all`` and marks them published. A crash
between publishing and marking republishes the batch; consumers are idempotent by ``event_id``, so
delivery is at-least-once and nothing acknowledged is lost. Rows are claimed with ``FOR UPDATE``
(no ``SKIP LOCKED``) so that with several replicas only one relay publishes at a time and per-key
order is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Index, String, Text, delete, func, select, update
from sqlalchemy.dialects.mysql import MEDIUMTEXT
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from chat_shared import metrics, tracing
from chat_shared.db import Base, BigId, UTCDateTime, after_commit, utcnow
from chat_shared.events.base import DomainEvent
from chat_shared.events.envelope import EventEnvelope
from chat_shared.kafka import ProducerHolder

log = structlog.get_logger("chat_shared.outbox")

PUBLISHED_RETENTION = timedelta(days=1)


class OutboxRecord(Base):
    """One event waiting to be (or already) published."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "published_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(64))
    #: MEDIUMTEXT on MySQL: a message event with its reactions at their bounds is larger than TEXT's 64 KiB.
    envelope: Mapped[str] = mapped_column(Text().with_variant(MEDIUMTEXT(), "mysql"))
    traceparent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    published_at = mapped_column(UTCDateTime(), nullable=True)


_PENDING = select(OutboxRecord.id).where(OutboxRecord.published_at.is_(None)).limit(1)


class Outbox:
    """Writes events into the current transaction and wakes the relay once it commits."""

    def __init__(self, service: str, relay: OutboxRelay | None) -> None:
        #: The ``producer`` of every envelope this outbox writes.
        self.service = service
        self._relay = relay

    def add(self, session: AsyncSession, event: DomainEvent) -> None:
        """Stage ``event`` for publication on its topic with its key; it exists only if the caller commits.

        The envelope (a new event id, the event's type and version, this service as producer, the current
        request id as correlation id) is built here.
        """
        envelope = EventEnvelope.of(event, self.service)
        session.add(
            OutboxRecord(
                event_id=str(envelope.event_id),
                event_type=envelope.event_type,
                topic=event.topic,
                key=str(event.key),
                envelope=envelope.model_dump_json(),
                traceparent=tracing.traceparent_var.get(),
            )
        )
        if self._relay is not None:
            after_commit(session, self._relay.wake)


class OutboxRelay:
    """Background task: publish pending outbox rows, mark them, purge old ones."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        producers: ProducerHolder,
        service: str,
        poll_interval: float = 0.5,
        batch_size: int = 200,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._producers = producers
        self._service = service
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        #: The time rows are marked published at, and that the retention of published rows counts from.
        self._clock = clock
        self._wakeup = asyncio.Event()
        self._stopping = False
        # Never: the first loop purges and updates the gauges, whatever the event loop's clock reads.
        self._last_purge = -math.inf
        self._last_gauges = -math.inf
        self._busy = False

    def wake(self) -> None:
        """Publish now instead of at the next poll (called after a commit that added events)."""
        self._wakeup.set()

    def stop(self) -> None:
        """Ask :meth:`run` to return after the current batch."""
        self._stopping = True
        self._wakeup.set()

    async def run(self) -> None:
        """Loop until stopped; a failing broker or database only delays publication."""
        backoff = 0.2
        while not self._stopping:
            try:
                while await self.publish_batch() == self._batch_size and not self._stopping:
                    pass
                await self._update_gauges()
                await self._maybe_purge()
                backoff = 0.2
            except Exception as exc:
                log.warning("outbox_relay_failed", error=repr(exc)[:300], retry_in_s=round(backoff, 2))
                await self._producers.reset()
                await asyncio.sleep(backoff + random.uniform(0, backoff / 2))
                backoff = min(backoff * 2, 5.0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_interval)
            self._wakeup.clear()

    async def _has_pending(self) -> bool:
        # After an empty batch, a plain indexed read first: an idle relay (every poll of every replica) then
        # takes no row locks and costs one cheap query instead of a locking transaction. A busy relay goes
        # straight to the locking read (the check would only add a round trip to every batch).
        if self._busy:
            return True
        async with self._sessionmaker() as session:
            return (await session.scalar(_PENDING)) is not None

    async def publish_batch(self) -> int:
        """Publish up to one batch of pending rows in id order; returns how many were published."""
        if not await self._has_pending():
            return 0
        published = await self._publish_pending()
        self._busy = published > 0
        return published

    async def _publish_pending(self) -> int:
        async with self._sessionmaker() as session, session.begin():
            rows = (
                await session.scalars(
                    select(OutboxRecord)
                    .where(OutboxRecord.published_at.is_(None))
                    .order_by(OutboxRecord.id)
                    .limit(self._batch_size)
                    .with_for_update()
                )
            ).all()
            if not rows:
                return 0
            producer = await self._producers.get()
            futures = []
            for row in rows:
                headers = [("event_type", row.event_type.encode())]
                envelope = json.loads(row.envelope)
                if envelope.get("correlation_id"):
                    headers.append(("x-request-id", str(envelope["correlation_id"]).encode()))
                if row.traceparent:
                    headers.append(("traceparent", row.traceparent.encode()))
                futures.append(
                    await producer.send(row.topic, row.envelope.encode(), key=row.key.encode(), headers=headers)
                )
            try:
                await asyncio.wait_for(asyncio.gather(*futures), timeout=20)
            except Exception:
                for row in rows:
                    metrics.EVENTS_PUBLISHED.labels(self._service, row.topic, "error").inc()
                raise
            await session.execute(
                update(OutboxRecord).where(OutboxRecord.id.in_([r.id for r in rows])).values(published_at=self._clock())
            )
            for row in rows:
                metrics.EVENTS_PUBLISHED.labels(self._service, row.topic, "ok").inc()
            return len(rows)

    async def _update_gauges(self) -> None:
        # At most once a second: the relay wakes after every commit, and a COUNT per wake-up would cost
        # more than the publishing itself under load.
        now = asyncio.get_running_loop().time()
        if now - self._last_gauges < 1.0:
            return
        self._last_gauges = now
        async with self._sessionmaker() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(OutboxRecord.created_at)).where(OutboxRecord.published_at.is_(None))
                )
            ).one()
        metrics.OUTBOX_PENDING.labels(self._service).set(count)
        age = 0.0
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            age = max(0.0, (self._clock() - oldest).total_seconds())
        metrics.OUTBOX_OLDEST_AGE.labels(self._service).set(age)

    async def _maybe_purge(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._last_purge < 300:
            return
        self._last_purge = now
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                delete(OutboxRecord).where(OutboxRecord.published_at < self._clock() - PUBLISHED_RETENTION)
            )
