"""aiokafka factories with every setting CONTRACT §7 depends on made explicit.

aiokafka's defaults (``acks=1``, auto-commit, ``auto_offset_reset="latest"``, 500 ms fetch wait)
would lose or skip events or add half a second of latency; none of them is left implicit here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from chat_shared.events.topics import DLQ_PARTITIONS, DLQ_RETENTION_MS, TOPICS, dlq
from chat_shared.settings import ServiceSettings

log = structlog.get_logger("chat_shared.kafka")


def create_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """A producer that waits for all in-sync replicas; idempotent where the broker supports it."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=settings.kafka_client(),
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        linger_ms=settings.kafka_linger_ms,
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
        metadata_max_age_ms=60_000,
    )


def create_consumer(
    settings: ServiceSettings, group_id: str, topics: Iterable[str], live: bool = False
) -> AIOKafkaConsumer:
    """A consumer that never auto-commits and starts from the beginning of a topic it has never read.

    ``live`` marks a consumer whose lag a user sees at once (chat's fan-out to open streams): it gets the
    short fetch wait where the broker does not long-poll; replica consumers may wait longer.
    """
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.kafka_client()}-{group_id}",
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        fetch_max_wait_ms=settings.fetch_max_wait_ms(live),
        max_poll_records=500,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=3_000,
        request_timeout_ms=15_000,
        metadata_max_age_ms=30_000,
    )


async def ensure_topics(settings: ServiceSettings, names: Iterable[str]) -> None:
    """Create the named topics (and their DLQs) with the partitions and retention of CONTRACT §7.

    Production clusters create topics with an init job; this keeps dev and tests self-contained.
    """
    wanted = []
    for name in names:
        spec = TOPICS[name]
        wanted.append(
            NewTopic(
                name,
                spec.partitions,
                settings.kafka_topic_replication,
                topic_configs={"retention.ms": str(spec.retention_ms)},
            )
        )
        wanted.append(
            NewTopic(
                dlq(name),
                DLQ_PARTITIONS,
                settings.kafka_topic_replication,
                topic_configs={"retention.ms": str(DLQ_RETENTION_MS)},
            )
        )
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
            log.info("kafka_topics_created", topics=[t.name for t in missing])
    finally:
        await admin.close()


class ProducerHolder:
    """One lazily started producer per process that survives the broker being away.

    Start-up must not fail when the broker is down (the outbox keeps accepting writes), so the
    producer is started on first use and rebuilt after a failure.
    """

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self.healthy = False

    async def get(self) -> AIOKafkaProducer:
        """The started producer; raises ``KafkaError`` when the broker cannot be reached."""
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                producer = create_producer(self._settings)
                try:
                    await asyncio.wait_for(producer.start(), timeout=15)
                except (KafkaError, TimeoutError, OSError) as exc:
                    self.healthy = False
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    raise KafkaError(f"broker unreachable: {exc!r}") from exc
                self._producer = producer
                self.healthy = True
        return self._producer

    async def reset(self) -> None:
        """Drop the producer after a failure so the next :meth:`get` reconnects."""
        self.healthy = False
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=5)

    async def close(self) -> None:
        """Flush and stop the producer."""
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=10)
