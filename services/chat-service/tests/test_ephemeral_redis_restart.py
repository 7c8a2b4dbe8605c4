"""Ephemeral events across a Redis restart, on a redis-server of the test's own: the bus re-opens its
subscription by itself and typing reaches the open stream again once Redis is back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError

from app.stream.ephemeral import TYPING, EphemeralBus
from app.stream.hub import StreamHub
from app.stream.log import UserLog
from chat_shared.redis import create_redis
from chat_shared.testing.redis_server import RedisServer
from chat_shared.testing.waiting import eventually
from tests.support import new_user


async def test_typing_reaches_an_open_stream_again_after_redis_restarts(tmp_path: Path) -> None:
    written: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        written.append(message["body"])

    with RedisServer(data_dir=tmp_path) as server:
        redis = create_redis(server.url())
        hub = StreamHub(redis, UserLog(redis), heartbeat_s=15, max_lifetime_s=3600)
        bus = EphemeralBus(redis, hub)
        await hub.start()
        await bus.start()
        try:
            user = new_user()
            await hub.register(hub.new_connection(user, send))
            await eventually(lambda: bus.subscription.live, "the bus's subscription")
            await bus.publish(TYPING, [user], {"room_id": 1, "user_id": 2, "expires_in": 5})
            await eventually(lambda: b"event: typing\n" in b"".join(written), "typing before the restart")

            await asyncio.to_thread(server.stop)
            await eventually(lambda: not bus.subscription.live, "the bus to notice Redis is gone")
            await asyncio.to_thread(server.start)
            await eventually(lambda: bus.subscription.live, "the bus's subscription back")
            written.clear()

            async def published() -> bool | None:
                try:  # a pooled connection from before the restart fails once ("closed by server")
                    await bus.publish(TYPING, [user], {"room_id": 1, "user_id": 3, "expires_in": 5})
                except RedisConnectionError:
                    return None
                return True

            await eventually(published, "a publish on the restarted Redis")
            await eventually(lambda: b'"user_id":3' in b"".join(written), "typing after the restart")
            assert not [body for body in written if b"id: " in body]  # never an id line
        finally:
            await bus.stop()
            await hub.stop()
            await redis.aclose()
