"""Durability and degraded start-up: the outbox holds events while the broker is away; MySQL or the broker
being unreachable at start never crash-loops, and both recover by themselves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from app.core.state import State
from app.factory import create_app
from chat_shared.testing import databases
from chat_shared.testing.broker import Broker, free_port, read_events
from chat_shared.testing.fixtures import StartedApp, asgi_client, started_app
from chat_shared.testing.proxy import TcpProxy
from chat_shared.testing.waiting import eventually

from .conftest import unique_name


@pytest.fixture
def proxied_broker() -> Iterator[tuple[Broker, TcpProxy]]:
    """A dedicated broker that clients reach only through a proxy the test can cut."""
    proxy_port = free_port()
    broker = Broker(advertised_port=proxy_port).start()
    proxy = TcpProxy(proxy_port, broker.port).start()
    try:
        yield broker, proxy
    finally:
        proxy.close()
        broker.stop()


@pytest.fixture
async def own_db(service_dir: Any) -> AsyncIterator[str]:
    """A database of its own, so the session app's outbox relay cannot publish this app's rows elsewhere."""
    url = await databases.create_database("test_user_own")
    await asyncio.to_thread(databases.migrate, service_dir, url)
    try:
        yield url
    finally:
        await databases.drop_database(url)


@pytest.fixture
async def cut_off(
    make_settings: Any, proxied_broker: tuple[Broker, TcpProxy], own_db: str
) -> AsyncIterator[StartedApp[State]]:
    broker, _ = proxied_broker
    settings = make_settings(kafka_bootstrap=broker.bootstrap, database_url=own_db)
    async for started in started_app(create_app(settings), State):
        yield started


async def ready_checks(client: httpx.AsyncClient) -> tuple[int, dict[str, str]]:
    response = await client.get("/ready")
    return response.status_code, response.json()["checks"]


async def test_registration_commits_while_broker_is_down_and_event_follows(
    cut_off: StartedApp[State], proxied_broker: tuple[Broker, TcpProxy]
) -> None:
    broker, proxy = proxied_broker
    async with asgi_client(cut_off) as client:
        await eventually(cut_off.state.runtime.kafka_ready.is_set, "the producer to connect")
        proxy.cut()
        name = unique_name("durable")
        response = await client.post(
            "/auth/register", json={"email": f"{name}@example.com", "username": name, "password": "correct-horse-9"}
        )
        assert response.status_code == 201
        status, checks = await ready_checks(client)
        assert status == 200
        assert checks["kafka"] == "degraded"
        proxy.restore()
        events = await read_events(
            broker.bootstrap,
            "user.events",
            lambda evs: any(e["payload"].get("username") == name for e in evs),
            timeout=30,
        )
        assert [e.get("payload", {}).get("username") for e in events].count(name) == 1

        async def kafka_ok() -> bool:
            return (await ready_checks(client))[1]["kafka"] == "ok"

        await eventually(kafka_ok, "/ready to report the broker ok again")


async def test_broker_unreachable_at_start_does_not_block_writes(make_settings: Any, own_db: str) -> None:
    dead = f"127.0.0.1:{free_port()}"
    async for app in started_app(create_app(make_settings(kafka_bootstrap=dead, database_url=own_db)), State):
        async with asgi_client(app) as client:
            assert (await client.get("/health")).status_code == 200
            status, checks = await ready_checks(client)
            assert status == 200
            assert checks == {"mysql": "ok", "redis": "ok", "kafka": "degraded"}
            name = unique_name("nobroker")
            response = await client.post(
                "/auth/register", json={"email": f"{name}@example.com", "username": name, "password": "correct-horse-9"}
            )
            assert response.status_code == 201


async def test_mysql_away_then_back(make_settings: Any, mysql_url: str) -> None:
    """Start with MySQL unreachable (behind a cut proxy): alive, not ready; ready once it returns."""
    from sqlalchemy.engine import make_url

    url = make_url(mysql_url)
    proxy_port = free_port()
    proxy = TcpProxy(proxy_port, url.port or 3306)
    proxy._thread.start()  # started but not listening: MySQL looks down
    proxied = url.set(host="127.0.0.1", port=proxy_port).render_as_string(hide_password=False)
    try:
        async for app in started_app(create_app(make_settings(database_url=proxied)), State):
            async with asgi_client(app) as client:
                assert (await client.get("/health")).status_code == 200
                response = await client.get("/ready")
                assert response.status_code == 503
                assert "mysql" in response.json()["detail"]
                assert response.json()["checks"]["mysql"] == "unavailable"
                proxy.restore()

                async def ready() -> bool:
                    return (await client.get("/ready")).status_code == 200

                await eventually(ready, "/ready once MySQL is back")
                name = unique_name("dbback")
                created = await client.post(
                    "/auth/register",
                    json={"email": f"{name}@example.com", "username": name, "password": "correct-horse-9"},
                )
                assert created.status_code == 201
    finally:
        proxy.close()
