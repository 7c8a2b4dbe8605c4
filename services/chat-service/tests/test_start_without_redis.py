"""chat-service starts while Redis is down: ``/ready`` answers 503 naming Redis and the stream until Redis is
reachable, streams are refused with 503 meanwhile, and the hub subscribes as soon as Redis comes back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.core.state import State
from app.factory import create_app
from chat_shared.testing import databases
from chat_shared.testing.broker import Broker
from chat_shared.testing.fixtures import StartedApp, asgi_client, started_app
from chat_shared.testing.redis_server import RedisServer
from chat_shared.testing.sse import open_stream
from chat_shared.testing.tokens import TestKeys as Keys
from chat_shared.testing.waiting import HANG_GUARD_S, eventually
from tests.conftest import SERVICE_DIR
from tests.support import UvicornServer, befriend, dm, new_user, send

Started = tuple[StartedApp[State], RedisServer, UvicornServer]


@pytest.fixture
async def started_before_redis(make_settings: Any) -> AsyncIterator[Started]:
    """chat-service started on a Redis that is not running yet; its own database and broker, so its fan-out
    is the one that writes its rooms' events into that Redis."""
    broker = Broker().start()
    url = await databases.create_database("test_chat_no_redis")
    await asyncio.to_thread(databases.migrate, SERVICE_DIR, url)
    redis_server = RedisServer()  # its port is chosen, nothing listens there yet
    try:
        settings = make_settings(database_url=url, kafka_bootstrap=broker.bootstrap, redis_url=redis_server.url())
        async for started in started_app(create_app(settings), State):
            server = UvicornServer(started)
            await server.start()
            try:
                yield started, redis_server, server
            finally:
                await server.stop()
    finally:
        redis_server.stop()
        broker.stop()
        await databases.drop_database(url)


async def test_the_service_starts_without_redis_and_serves_streams_once_it_is_up(
    started_before_redis: Started, keys: Keys
) -> None:
    started, redis_server, server = started_before_redis
    async with asgi_client(started) as client:
        ready = await client.get("/ready")
        assert ready.status_code == 503, ready.text
        body = ready.json()
        assert body["checks"]["redis"] == body["checks"]["stream"] == "unavailable"
        assert "redis" in body["detail"] and "stream" in body["detail"]
        assert ready.headers["retry-after"]

        user = new_user()
        async with open_stream(server.url, headers=keys.headers(user), expect=503) as refused:
            assert refused.response.headers["retry-after"]
            assert "Live stream unavailable" in (await refused.response.aread()).decode()

        await asyncio.to_thread(redis_server.start)

        async def is_ready() -> bool:
            return (await client.get("/ready")).status_code == 200

        await eventually(is_ready, "/ready once Redis is up")
        await asyncio.wait_for(started.state.runtime.kafka_ready.wait(), HANG_GUARD_S)
        a, b = new_user(), new_user()
        await befriend(started.state, a, b)
        async with open_stream(server.url, headers=keys.headers(b)) as sse:
            room = await dm(client, keys, a, b)
            sent = await send(client, keys, a, room, "after Redis came up")
            got = await sse.until(lambda e: e.event == "message.created" and e.data["message"]["id"] == sent["id"])
            assert got.data["message"]["content"] == "after Redis came up"
