"""A full Redis (``noeviction``, as deployed): sends keep working and the streams whose events could not be
kept get ``reset`` (clients re-sync through REST) instead of silently missing them."""

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
from tests.conftest import SERVICE_DIR
from tests.support import UvicornServer, befriend, dm, new_user, send

FullRedisApp = tuple[StartedApp[State], RedisServer, UvicornServer]


@pytest.fixture
async def full_redis_app(make_settings: Any) -> AsyncIterator[FullRedisApp]:
    """chat-service on a Redis of 16 MB; its own database and broker, so every event of its rooms goes through
    its own fan-out into that Redis."""
    broker = Broker().start()
    url = await databases.create_database("test_chat_full")
    await asyncio.to_thread(databases.migrate, SERVICE_DIR, url)
    try:
        with RedisServer(maxmemory="16mb") as redis_server:
            settings = make_settings(database_url=url, kafka_bootstrap=broker.bootstrap, redis_url=redis_server.url())
            async for started in started_app(create_app(settings), State):
                await asyncio.wait_for(started.state.runtime.kafka_ready.wait(), 30)
                server = UvicornServer(started)
                await server.start()
                try:
                    yield started, redis_server, server
                finally:
                    await server.stop()
    finally:
        broker.stop()
        await databases.drop_database(url)


async def test_a_full_redis_resets_the_streams_and_sends_keep_working(full_redis_app: FullRedisApp, keys: Keys) -> None:
    started, redis_server, server = full_redis_app
    a, b = new_user(), new_user()
    await befriend(started.state, a, b)
    async with asgi_client(started) as client, open_stream(server.url, headers=keys.headers(b)) as sse:
        room = await dm(client, keys, a, b)
        await sse.until(lambda e: e.event == "room.created", timeout=30)
        await send(client, keys, a, room, "before")
        before = await sse.until(lambda e: e.event == "message.created", timeout=30)

        assert redis_server.fill() > 0
        sent = await client.post(f"/rooms/{room}/messages", json={"content": "while full"}, headers=keys.headers(a))
        assert sent.status_code == 201, sent.text
        got = await sse.until(lambda e: e.event in ("reset", "message.created"), timeout=30)
        assert got.event == "reset"
        # The client re-syncs through REST: the message is there.
        history = (await client.get(f"/rooms/{room}/messages", params={"after": 1}, headers=keys.headers(b))).json()
        assert [m["content"] for m in history["items"]] == ["while full"]

    # A stream resuming from before the hole is told to re-sync too, not replayed past it.
    async with open_stream(server.url, headers={**keys.headers(b), "Last-Event-ID": str(before.id)}) as resumed:
        assert (await resumed.next()).event == "reset"
