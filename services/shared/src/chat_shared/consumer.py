"""Consumer runner: one handler per event class, idempotent by ``event_id``, DLQ for poison events.

A consumer is given its handlers keyed by event class (``{MessageSent: on_message_sent}``); each handler
is called as ``await handler(session, event, envelope)`` with the parsed, typed event and the envelope it
came in (for ``event_id`` or ``occurred_at``). Records of event types it has no handler for are skipped.

For each record: parse the envelope, skip it if ``(group, event_id)`` is already in
``processed_events``, otherwise run the handler and record the event in the same transaction.
Offsets are committed only after the batch's transactions committed, so a crash re-delivers
(and the processed-events record makes the re-delivery a no-op). A transient failure (a store is away,
busy or full: :func:`chat_shared.transient.is_transient`) is retried with backoff without end and never
reaches the DLQ; any other failure is retried a few times and then the record goes to ``<topic>.dlq``
with the error, and the consumer moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from chat_shared import metrics, tracing
from chat_shared.db import Base, UTCDateTime, commit, utcnow
from chat_shared.events.base import DomainEvent
from chat_shared.events.envelope import EventEnvelope
from chat_shared.events.topics import dlq
from chat_shared.kafka import ProducerHolder, create_consumer
from chat_shared.settings import ServiceSettings
from chat_shared.transient import is_transient

log = structlog.get_logger("chat_shared.consumer")

#: ``async def on_message_sent(session: AsyncSession, event: MessageSent, envelope: EventEnvelope) -> None``
Handler = Callable[[AsyncSession, Any, EventEnvelope], Awaitable[None]]
#: Each event class a consumer applies, with its handler.
Handlers = Mapping[type[DomainEvent], Handler]


class BatchHooks(Protocol):
    """Work a consumer does once per batch around its handlers, in the batch's session and transaction:
    a read every handler needs (one query instead of one per event) before, and writes the handlers
    queued (one round trip instead of one per event) after the last handler and before the commit."""

    async def before(self, session: AsyncSession, events: Sequence[DomainEvent]) -> None:
        """Called with the batch's events that are not duplicates, before the first handler."""

    async def after(self, session: AsyncSession) -> None:
        """Called after the last handler; raising rolls the batch back like a failing handler."""


class ProcessedEvent(Base):
    """An event a consumer group has applied; the key of consumer idempotency."""

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    processed_at = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class _Received(NamedTuple):
    """A record with its envelope and the typed event it carries."""

    record: ConsumerRecord[bytes, bytes]
    envelope: EventEnvelope
    event: DomainEvent


class PoisonEvent(Exception):
    """The record can never be handled (malformed or failing its schema)."""


class EventConsumer:
    """Runs one consumer group over some topics, dispatching each event to the handler of its class."""

    def __init__(
        self,
        *,
        settings: ServiceSettings,
        group_id: str,
        topics: list[str],
        handlers: Handlers,
        sessionmaker: async_sessionmaker[AsyncSession],
        producers: ProducerHolder,
        max_attempts: int = 3,
        track_processed: bool = True,
        live: bool = False,
        hooks: BatchHooks | None = None,
    ) -> None:
        if stray := [cls.event_type for cls in handlers if cls.topic not in topics]:
            raise ValueError(f"{group_id} handles events it never receives (not on {topics}): {stray}")
        self.group_id = group_id
        self.topics = topics
        self._settings = settings
        self._handlers = dict(handlers)
        self._classes = {cls.event_type: cls for cls in handlers}
        self._sessionmaker = sessionmaker
        self._producers = producers
        self._max_attempts = max_attempts
        #: False only for handlers that are idempotent by event id on their own (e.g. chat's fan-out, which
        #: dedupes in Redis for the topic's retention): they skip the processed-events bookkeeping.
        self._track = track_processed
        self._live = live
        self._hooks = hooks
        self._service = settings.service_name
        self._consumer: AIOKafkaConsumer | None = None
        self._stopping = False
        self._positions: dict[TopicPartition, int] = {}
        self.running = asyncio.Event()

    def stop(self) -> None:
        """Ask :meth:`run` to return after the current batch."""
        self._stopping = True

    async def run(self) -> None:
        """Consume until stopped; reconnects with backoff when the broker is away."""
        backoff = 0.5
        while not self._stopping:
            consumer = create_consumer(self._settings, self.group_id, self.topics, self._live)
            try:
                await consumer.start()
                self._consumer = consumer
                self.running.set()
                backoff = 0.5
                while not self._stopping:
                    batch = await consumer.getmany(timeout_ms=500, max_records=500)
                    if batch:
                        # Everything one poll returned is applied in one transaction (each partition's
                        # records stay in order; order between partitions does not matter), and the offsets
                        # of every partition are committed once after it: per partition, at 500 events/s
                        # over 10 partitions most batches would hold one event and pay a transaction and a
                        # broker round trip each (S8).
                        await self._handle_batch([r for records in batch.values() for r in records])
                        offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
                        await consumer.commit(offsets)
                        self._positions.update(offsets)
                    self._record_lag(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer_failed", group=self.group_id, error=repr(exc)[:300], retry_in_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self.running.clear()
                self._consumer = None
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(consumer.stop(), timeout=10)

    async def _handle_batch(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply one poll's records in a single transaction; if that fails, one event at a time.

        One transaction per batch (one processed-events lookup, one commit) is what lets a consumer drain
        thousands of events per second; the per-event path isolates a poison event and retries transient
        failures, so the batch path may simply give up on any error.
        """
        parsed: list[_Received] = []
        for record in records:
            try:
                received = self._parse(record)
            except PoisonEvent as exc:
                await self._dead_letter(record, "unknown", str(exc))
                continue
            if received is not None:
                parsed.append(received)
        if len(parsed) > 1:
            try:
                results = await self._apply_many(parsed)
            except Exception as exc:
                log.info("consumer_batch_fallback", group=self.group_id, size=len(parsed), error=repr(exc)[:200])
            else:
                for item, result in zip(parsed, results, strict=True):
                    metrics.EVENTS_CONSUMED.labels(
                        self._service, item.record.topic, item.envelope.event_type, result
                    ).inc()
                return
        for item in parsed:
            await self._handle(item)

    async def _apply_many(self, items: list[_Received]) -> list[str]:
        async with self._sessionmaker() as session:
            try:
                seen: set[str] = set()
                if self._track:
                    ids = [str(item.envelope.event_id) for item in items]
                    seen.update(
                        (
                            await session.scalars(
                                select(ProcessedEvent.event_id).where(
                                    ProcessedEvent.consumer == self.group_id, ProcessedEvent.event_id.in_(ids)
                                )
                            )
                        ).all()
                    )
                if self._hooks is not None:
                    await self._hooks.before(
                        session, [item.event for item in items if str(item.envelope.event_id) not in seen]
                    )
                results = []
                for record, envelope, event in items:
                    event_id = str(envelope.event_id)
                    if event_id in seen:
                        results.append("duplicate")
                        continue
                    self._bind_context(envelope, record)
                    await self._handlers[type(event)](session, event, envelope)
                    if self._track:
                        seen.add(event_id)
                        session.add(ProcessedEvent(consumer=self.group_id, event_id=event_id))
                    if len(items) > 1:
                        # Later handlers of the batch must see this one's writes (no autoflush).
                        await session.flush()
                    results.append("handled")
                if self._hooks is not None:
                    await self._hooks.after(session)
                await commit(session)
            except BaseException:
                await session.rollback()
                raise
        return results

    async def _handle(self, item: _Received) -> None:
        record, envelope, _ = item
        self._bind_context(envelope, record)
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await self._apply(item)
                metrics.EVENTS_CONSUMED.labels(self._service, record.topic, envelope.event_type, result).inc()
                return
            except Exception as exc:
                if is_transient(exc):
                    await self._transient_pause(record, envelope, exc, attempt)
                    continue
                if attempt >= self._max_attempts:
                    await self._dead_letter(record, envelope.event_type, repr(exc))
                    return
                metrics.EVENTS_CONSUMED.labels(self._service, record.topic, envelope.event_type, "retried").inc()
                await asyncio.sleep(0.05 * 2**attempt)

    async def _transient_pause(
        self, record: ConsumerRecord[bytes, bytes], envelope: EventEnvelope, exc: BaseException, attempt: int
    ) -> None:
        delay = min(0.2 * 2 ** min(attempt, 6), 10.0)
        log.warning(
            "consumer_transient_error",
            group=self.group_id,
            event_type=envelope.event_type,
            error=repr(exc)[:200],
            retry_in_s=delay,
        )
        metrics.EVENTS_CONSUMED.labels(self._service, record.topic, envelope.event_type, "retried").inc()
        if self._stopping:
            raise asyncio.CancelledError
        await asyncio.sleep(delay)

    def _parse(self, record: ConsumerRecord[bytes, bytes]) -> _Received | None:
        """The record's envelope and typed event; None for an event type this consumer has no handler for."""
        try:
            envelope = EventEnvelope.model_validate(json.loads(record.value or b""))
        except (ValueError, ValidationError) as exc:
            raise PoisonEvent(f"malformed envelope: {str(exc)[:300]}") from exc
        cls = self._classes.get(envelope.event_type)
        if cls is None:
            return None  # another consumer's business
        try:
            event = cls.model_validate(envelope.payload)
        except ValidationError as exc:
            raise PoisonEvent(f"payload does not match {envelope.event_type}: {str(exc)[:300]}") from exc
        return _Received(record, envelope, event)

    async def _apply(self, item: _Received) -> str:
        try:
            return (await self._apply_many([item]))[0]
        except IntegrityError:
            # A concurrent delivery of the same event (during a rebalance) won the processed-record insert.
            async with self._sessionmaker() as session:
                if await session.scalar(
                    select(ProcessedEvent.event_id).where(
                        ProcessedEvent.consumer == self.group_id,
                        ProcessedEvent.event_id == str(item.envelope.event_id),
                    )
                ):
                    return "duplicate"
            raise

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], event_type: str, error: str) -> None:
        """Publish the raw record to ``<topic>.dlq``; if even that fails, raise so the offset is not committed."""
        producer = await self._producers.get()
        headers = [
            ("dlq.error", error[:1000].encode()),
            ("dlq.source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
            ("dlq.group", self.group_id.encode()),
        ]
        try:
            await producer.send_and_wait(dlq(record.topic), record.value, key=record.key, headers=headers)
        except KafkaError:
            await self._producers.reset()
            raise
        metrics.EVENTS_DLQ.labels(self._service, record.topic).inc()
        metrics.EVENTS_CONSUMED.labels(self._service, record.topic, event_type, "dlq").inc()
        log.error(
            "event_dead_lettered",
            topic=record.topic,
            offset=record.offset,
            group=self.group_id,
            event_type=event_type,
            error=error[:300],
        )

    @staticmethod
    def _bind_context(envelope: EventEnvelope, record: ConsumerRecord[bytes, bytes]) -> None:
        headers = {k: v.decode("latin-1") for k, v in (record.headers or ())}
        tracing.bind(
            tracing.clean_request_id(envelope.correlation_id or headers.get("x-request-id")),
            tracing.child_traceparent(headers.get("traceparent")),
        )

    def _record_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None or tp not in self._positions:
                continue
            lag = max(0, high - self._positions[tp])
            metrics.CONSUMER_LAG.labels(self._service, tp.topic, str(tp.partition), self.group_id).set(lag)
