"""A Redis outage under the presence consumer only delays it: redis-py's errors are transient to the consumer
runner, so nothing is dead-lettered and every transition is applied once Redis is back."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

from prometheus_client import REGISTRY

from app.core.state import State
from app.kafka.consumers import presence_handlers
from app.services.presence import PresenceReplica, presence_key
from chat_shared.consumer import EventConsumer
from chat_shared.events.topics import USER_ONLINE_STATUS
from chat_shared.redis import create_redis
from chat_shared.testing.redis_server import RedisServer
from chat_shared.testing.waiting import eventually
from tests.helpers import envelope, publish


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"service": "friend-service", "topic": USER_ONLINE_STATUS, **labels}) or 0.0


def retried() -> float:
    return _sample("events_consumed_total", event_type="UserOnline", result="retried")


def dead_lettered() -> float:
    return _sample("events_dlq_total")


async def test_a_redis_outage_delays_presence_events_and_dead_letters_none(state: State, kafka_bootstrap: str) -> None:
    with RedisServer() as server:
        redis = create_redis(server.url())
        replica = PresenceReplica(redis, online_ttl_s=3600, offline_ttl_s=3600)
        consumer = EventConsumer(
            settings=state.settings,
            group_id=f"test-presence-outage-{uuid.uuid4().hex[:8]}",
            topics=[USER_ONLINE_STATUS],
            handlers=presence_handlers(replica),
            sessionmaker=state.runtime.sessionmaker,
            producers=state.runtime.producers,
        )
        task = asyncio.create_task(consumer.run())
        base = 7_000_000_000 + uuid.uuid4().int % 1_000_000_000
        try:

            async def online(user_id: int) -> None:
                now = datetime.now(UTC).isoformat()
                await publish(
                    kafka_bootstrap,
                    USER_ONLINE_STATUS,
                    envelope("UserOnline", {"user_id": user_id, "at": now}),
                    user_id,
                )

            await online(base)  # the consumer has caught up to here before Redis goes away
            await eventually(lambda: redis.exists(presence_key(base)))
            retries, dlq = retried(), dead_lettered()

            server.stop()
            outage = [base + n for n in range(1, 6)]
            for user_id in outage:
                await online(user_id)
            # Past the attempts after which a permanent failure is dead-lettered.
            await eventually(lambda: retried() - retries >= 3)
            server.start()

            async def all_applied() -> bool:
                return all(await redis.mget([presence_key(u) for u in outage]))

            await eventually(all_applied)
            assert dead_lettered() == dlq
        finally:
            consumer.stop()
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            await redis.aclose()
