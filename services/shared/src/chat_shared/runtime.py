"""What every service's lifespan opens and closes: SQL, Redis, the producer, the outbox relay,
consumers and background tasks — closed in reverse order. Requests reach them through the service's
state (:mod:`chat_shared.state`).

Start-up never fails because the broker is away: topics are ensured and consumers started by a
background task that retries, and the readiness check reports ``kafka: degraded`` meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import Any

import structlog
from redis.asyncio import Redis

from chat_shared import db, metrics
from chat_shared.consumer import BatchHooks, EventConsumer, Handlers
from chat_shared.dialect import prepare_database_file
from chat_shared.events.topics import USER_EVENTS
from chat_shared.health import Readiness
from chat_shared.kafka import ProducerHolder, ensure_topics
from chat_shared.migrations import upgrade_head
from chat_shared.outbox import Outbox, OutboxRelay
from chat_shared.redis import create_redis
from chat_shared.revocation import (
    CLOCK_MARGIN_S,
    RevocationFeed,
    RevocationMirror,
    Revocations,
    consumer_group,
    revocation_handlers,
)
from chat_shared.settings import ServiceSettings

log = structlog.get_logger("chat_shared.runtime")
_heap_frozen = False
#: Young-generation collections between two full ones (CPython's default is 10); see freeze_startup_heap.
FULL_COLLECTION_AFTER = 100


class Runtime:
    """The process-wide resources of one service."""

    def __init__(self, settings: ServiceSettings, service_dir: Path, readiness: Readiness) -> None:
        self.settings = settings
        self.service_dir = service_dir
        self.engine = db.create_engine(
            settings.database_url, settings.service_name, settings.database_pool_size, settings.database_max_overflow
        )
        self.sessionmaker = db.create_sessionmaker(self.engine)
        self.producers = ProducerHolder(settings)
        self.relay = OutboxRelay(
            self.sessionmaker,
            self.producers,
            settings.service_name,
            settings.outbox_poll_interval_s,
            settings.outbox_batch_size,
        )
        self.outbox = Outbox(settings.service_name, self.relay)
        self.redis: Redis = create_redis(settings.redis_url, settings.service_name, settings.redis_max_connections)
        self.consumers: list[EventConsumer] = []
        self.kafka_topics: set[str] = set()
        self.kafka_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        keep_s = settings.access_token_ttl_s + CLOCK_MARGIN_S
        #: Revoked sessions, checked by the token verifier (see :mod:`chat_shared.revocation`).
        self.revocations = Revocations(keep_s)
        self.revocation_feed = RevocationFeed(self.redis, settings.service_name, keep_s)
        self.revocation_mirror = RevocationMirror(self.revocation_feed, self.revocations, settings.revocation_poll_s)
        self.readiness = readiness
        self.readiness.add("mysql", self.sql_check)
        self.readiness.add("kafka", self.kafka_check)
        self.readiness.add("redis", self.redis_check)

    # --- start-up -------------------------------------------------------------------------------

    async def migrate_if_asked(self) -> None:
        """Run ``alembic upgrade head`` when ``RUN_MIGRATIONS_ON_START`` (dev mode) is set."""
        url = self.settings.database_url
        prepare_database_file(url)
        if self.settings.run_migrations_on_start:
            await asyncio.to_thread(upgrade_head, self.service_dir, url)

    def add_consumer(self, consumer: EventConsumer) -> None:
        """A consumer started once the broker is reachable."""
        self.consumers.append(consumer)
        self.kafka_topics.update(consumer.topics)
        metrics.init_consumer_series(self.settings.service_name, consumer.topics)

    def consume(
        self,
        group_id: str,
        topics: list[str],
        handlers: Handlers,
        track_processed: bool = True,
        live: bool = False,
        hooks: BatchHooks | None = None,
    ) -> EventConsumer:
        """Declare a consumer group of this service on these topics (started once the broker is reachable);
        ``live`` for one whose lag users see at once (see :func:`chat_shared.kafka.create_consumer`),
        ``hooks`` for work done once per batch around the handlers (see :class:`BatchHooks`)."""
        consumer = EventConsumer(
            settings=self.settings,
            group_id=group_id,
            topics=topics,
            handlers=handlers,
            sessionmaker=self.sessionmaker,
            producers=self.producers,
            track_processed=track_processed,
            live=live,
            hooks=hooks,
        )
        self.add_consumer(consumer)
        return consumer

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A background task cancelled at shutdown."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.append(task)
        return task

    def start_kafka(self, produced_topics: Iterable[str]) -> None:
        """Start the relay and the revocation mirror now, and the consumers (this service's revocation
        consumer among them) as soon as the topics exist; start-up is then complete."""
        self.kafka_topics.update(produced_topics)
        self.consume(
            consumer_group(self.settings.service_name), [USER_EVENTS], revocation_handlers(self.revocation_feed)
        )
        self.spawn(self.revocation_mirror.run(), "revocation-mirror")
        self.spawn(self.relay.run(), "outbox-relay")
        self.spawn(self._bootstrap_kafka(), "kafka-bootstrap")
        freeze_startup_heap()

    async def _bootstrap_kafka(self) -> None:
        delay = 0.5
        while True:
            try:
                if self.settings.kafka_create_topics and self.kafka_topics:
                    await ensure_topics(self.settings, sorted(self.kafka_topics))
                break
            except Exception as exc:
                log.warning("kafka_unreachable_at_start", error=repr(exc)[:200], retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        for consumer in self.consumers:
            self.spawn(consumer.run(), f"consumer-{consumer.group_id}")
        self.kafka_ready.set()

    async def kafka_check(self) -> bool:
        """Readiness probe of the broker: a metadata round-trip through the producer's connection.

        A started producer alone proves nothing once the broker goes away, so ask the broker something.
        """
        producer = await self.producers.get()
        try:
            await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout=1.5)
        except Exception:
            self.producers.healthy = False
            raise
        self.producers.healthy = True
        return True

    async def redis_check(self) -> bool:
        """Readiness probe of Redis, and of what this process keeps from it: a process that has not yet read
        the revocations of the last token lifetime must not take requests (it would accept revoked tokens)."""
        await self.redis.ping()
        return await self.revocation_mirror.check()

    async def sql_check(self) -> None:
        """Readiness probe of the SQL database."""
        await db.ping(self.engine)

    # --- shutdown -------------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop tasks, flush what the relay can, close clients in reverse order of opening."""
        for consumer in self.consumers:
            consumer.stop()
        self.relay.stop()
        for task in reversed(self._tasks):
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=5)
        await self.producers.close()
        with contextlib.suppress(Exception):
            await self.redis.aclose()
        await self.engine.dispose()


def freeze_startup_heap() -> None:
    """Keep full garbage collections off the request path, once per process.

    A full collection walks the start-up heap (modules, models, schemas, routes: ~165k objects) plus every
    open stream's objects, stalling the event loop for 70-125 ms at a time, often enough to own a request's
    p99. So what start-up allocated is frozen (never walked again; it lives as long as the process anyway),
    and a full collection waits for 100 young collections instead of 10 (CPython's other condition, pending
    objects > 25 % of the old generation, still holds). At 200 SSE connects/s with 2,000 streams held this
    takes the p99 of a connect from 125 ms to single-digit ms (docs/performance.md).
    """
    global _heap_frozen
    if _heap_frozen:
        return
    _heap_frozen = True
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)
