"""pytest plugin shared by the services' suites (``pytest_plugins = ["chat_shared.testing.fixtures"]``).

Real backends every time: the MariaDB/MySQL server at ``TEST_MYSQL_URL`` (a fresh database per
session, migrated with alembic), the Redis at ``TEST_REDIS_URL`` (one logical db, flushed per test)
and a Kafka-compatible broker — ``KAFKA_BOOTSTRAP`` if set, else a Tansu started for the session.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from starlette.types import ASGIApp, Receive, Scope, Send

from chat_shared.state import CoreState, state_in_scope
from chat_shared.testing import databases
from chat_shared.testing.broker import Broker

DEFAULT_REDIS = "redis://127.0.0.1:6379/9"
StateT = TypeVar("StateT", bound=CoreState[Any])


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say which real backends this run uses."""
    return [
        f"backends: mysql={databases.server_url()} redis={os.environ.get('TEST_REDIS_URL', DEFAULT_REDIS)} "
        f"kafka={os.environ.get('KAFKA_BOOTSTRAP', 'tansu (started per session)')} "
        f"mongo={os.environ.get('MONGO_URL') or 'mongomock-motor'}"
    ]


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The broker for this session."""
    if env := os.environ.get("KAFKA_BOOTSTRAP"):
        yield env
        return
    broker = Broker().start()
    # Tansu waits out the whole fetch wait instead of long-polling; every app and subprocess the tests
    # start reads this (pydantic-settings) unless a test sets it explicitly.
    os.environ.setdefault("KAFKA_FETCH_MAX_WAIT_MS", "5")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
async def mysql_url(service_dir: Path, db_prefix: str) -> AsyncIterator[str]:
    """A migrated database of this service, dropped at the end of the session."""
    url = await databases.create_database(db_prefix)
    await asyncio.to_thread(databases.migrate, service_dir, url)
    try:
        yield url
    finally:
        await databases.drop_database(url)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis logical database the tests may flush."""
    return os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS)


async def flush_redis(url: str) -> None:
    """Empty the test Redis database."""
    client = Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def reset_state(state: CoreState[Any], redis: str) -> None:
    """Truncate every table and flush Redis, so each test starts empty."""
    await databases.truncate_all(state.engine)
    await flush_redis(redis)


class StartedApp(Generic[StateT]):
    """An app whose lifespan has run, served the way a server serves it: every request's scope gets the
    lifespan's state. ``state`` may be replaced to serve later requests with another one."""

    def __init__(self, app: FastAPI, state: StateT) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            scope["state"] = {**scope.get("state", {}), **self.state.lifespan_state()}
        await self.app(scope, receive, send)


async def started_app(app: FastAPI, kind: type[StateT]) -> AsyncIterator[StartedApp[StateT]]:
    """Run the app's lifespan around a test session; ``kind`` is the service's state class."""
    async with app.router.lifespan_context(app) as lifespan_state:
        yield StartedApp(app, state_in_scope({"state": lifespan_state}, kind))


def asgi_client(app: ASGIApp, **kwargs: Any) -> httpx.AsyncClient:
    """An httpx client speaking to the app (a :class:`StartedApp`) in-process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", **kwargs)
