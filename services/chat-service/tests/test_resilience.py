"""Across processes and through a broker outage: a 201 is delivered, in seq order, exactly once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.core.state import State
from app.factory import create_app
from chat_shared.testing import databases
from chat_shared.testing.broker import Broker, free_port
from chat_shared.testing.fixtures import StartedApp, asgi_client, started_app
from chat_shared.testing.processes import stop_process, wait_for_http
from chat_shared.testing.proxy import TcpProxy
from chat_shared.testing.sse import open_stream
from chat_shared.testing.tokens import TestKeys as Keys
from chat_shared.testing.waiting import HANG_GUARD_S
from tests.conftest import SERVICE_DIR
from tests.support import UvicornServer, befriend, dm, new_user, send


@pytest.fixture(scope="module")
async def second_process(
    mysql_url: str, redis_url: str, kafka_bootstrap: str, keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A second chat-service as a real process (uvicorn) on the same MySQL, Redis and broker."""
    port = free_port()
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": mysql_url,
        "REDIS_URL": redis_url,
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "KAFKA_ENABLE_IDEMPOTENCE": "false",
        "MONGO_URL": "mongomock://",
        "JWT_PUBLIC_KEY": keys.public_pem,
        "JWT_PUBLIC_KEY_ID": keys.kid,
        "OUTBOX_POLL_INTERVAL_S": "0.1",
        "LOG_LEVEL": "WARNING",
    }
    log = tmp_path_factory.mktemp("second-chat") / "uvicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=SERVICE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_for_http(f"{url}/health", proc, what="the second chat-service", log=log)
        yield url
    finally:
        stop_process(proc)


async def test_a_message_sent_through_one_process_reaches_a_stream_on_another(
    state: State, client: httpx.AsyncClient, server: UvicornServer, second_process: str, keys: Keys
) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    async with httpx.AsyncClient(base_url=second_process) as other:
        # b listens on this process, a sends through the other one …
        async with open_stream(server.url, headers=keys.headers(b)) as sse:
            sent = await send(other, keys, a, room, "across processes")
            got = await sse.until(lambda e: e.event == "message.created")
            assert got.data["message"]["id"] == sent["id"]
        # … and the other way round.
        async with open_stream(second_process, headers=keys.headers(a)) as sse:
            sent = await send(client, keys, b, room, "and back")
            got = await sse.until(lambda e: e.event == "message.created")
            assert got.data["message"]["id"] == sent["id"]


@pytest.fixture(scope="module")
async def cut_off_app(make_settings: Any) -> AsyncIterator[tuple[StartedApp[State], TcpProxy, UvicornServer]]:
    """An app whose broker sits behind a proxy the test can cut; its own database so no other relay
    publishes its outbox."""
    proxy_port = free_port()
    broker = Broker(advertised_port=proxy_port).start()
    proxy = TcpProxy(proxy_port, broker.port).start()
    url = await databases.create_database("test_chat_cut")
    await asyncio.to_thread(databases.migrate, SERVICE_DIR, url)
    app = create_app(make_settings(database_url=url, kafka_bootstrap=broker.bootstrap))
    try:
        async for started in started_app(app, State):
            await asyncio.wait_for(started.state.runtime.kafka_ready.wait(), HANG_GUARD_S)
            srv = UvicornServer(started)
            await srv.start()
            try:
                yield started, proxy, srv
            finally:
                await srv.stop()
    finally:
        proxy.close()
        broker.stop()
        await databases.drop_database(url)


async def test_messages_acknowledged_while_the_broker_is_away_are_delivered_once_in_order(
    cut_off_app: tuple[StartedApp[State], TcpProxy, UvicornServer], keys: Keys
) -> None:
    started, proxy, srv = cut_off_app
    a, b = new_user(), new_user()
    await befriend(started.state, a, b)
    async with asgi_client(started) as client, open_stream(srv.url, headers=keys.headers(b)) as sse:
        room = await dm(client, keys, a, b)
        await sse.until(lambda e: e.event == "room.created")
        proxy.cut()
        try:
            sent = [await send(client, keys, a, room, f"during outage {i}") for i in range(10)]
            assert [m["seq"] for m in sent] == list(range(1, 11))
            assert (await client.get("/ready")).status_code == 200  # the broker is degradable
        finally:
            proxy.restore()
        got = await sse.take(10)
        assert [e.data["message"]["id"] for e in got] == [m["id"] for m in sent]
        # Once each: a message sent now is the next event (a duplicate would have come before it).
        after = await send(client, keys, a, room, "after the outage")
        assert (await sse.next()).data["message"]["id"] == after["id"]
