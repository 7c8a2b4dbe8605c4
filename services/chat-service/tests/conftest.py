"""chat-service test fixtures: the real app on a fresh MySQL database, real Redis and broker, Mongo via
``MONGO_URL`` or mongomock-motor; a real uvicorn server for the stream tests.

Tests do not truncate between each other: every test draws fresh user ids (and so fresh rooms, streams
and pairs), which keeps late events of one test from landing in another's rooms.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from app.core.state import State
from app.factory import create_app
from chat_shared.testing.broker import free_port
from chat_shared.testing.fixtures import StartedApp, asgi_client, flush_redis, started_app
from chat_shared.testing.tokens import TestKeys
from tests.support import UvicornServer

pytest_plugins = ["chat_shared.testing.fixtures"]

SERVICE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def service_dir() -> Path:
    return SERVICE_DIR


@pytest.fixture(scope="session")
def db_prefix() -> str:
    return "test_chat"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Logical db 11 unless TEST_REDIS_URL says otherwise (other suites use other dbs)."""
    return os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


@pytest.fixture(scope="session")
def keys() -> TestKeys:
    return TestKeys()


@pytest.fixture(scope="session")
def make_settings(mysql_url: str, redis_url: str, kafka_bootstrap: str, keys: TestKeys) -> Any:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": mysql_url,
            "redis_url": redis_url,
            "kafka_bootstrap": kafka_bootstrap,
            "kafka_enable_idempotence": False,
            "mongo_url": os.environ.get("MONGO_URL") or "mongomock://",
            "mongo_db": "chat_test",
            "jwt_public_key": keys.public_pem,
            "jwt_public_key_id": keys.kid,
            "outbox_poll_interval_s": 0.1,
            "sse_heartbeat_s": 1.0,
            # Nothing listens there: the replica's answers stand, as they do while friend-service is down.
            # tests/test_permission_confirm.py points the directory at a real friend-service.
            "friend_service_url": f"http://127.0.0.1:{free_port()}",
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture(scope="session")
async def app(make_settings: Any, redis_url: str) -> AsyncIterator[StartedApp[State]]:
    await flush_redis(redis_url)
    async for started in started_app(create_app(make_settings()), State):
        await started.state.runtime.kafka_ready.wait()
        yield started


@pytest.fixture(scope="session")
def state(app: StartedApp[State]) -> State:
    """The session app's typed state (its stores, settings and runtime)."""
    return app.state


@pytest.fixture
async def client(app: StartedApp[State]) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as c:
        yield c


@pytest.fixture(scope="session")
async def server(app: StartedApp[State]) -> AsyncIterator[UvicornServer]:
    """The session app served by a real uvicorn on a free port (streams need a real server)."""
    srv = UvicornServer(app)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture(scope="session")
async def other_server(make_settings: Any) -> AsyncIterator[UvicornServer]:
    """A second chat-service process on the same database and Redis, with no broker: whatever reaches its
    streams came from the session app through Redis."""
    async for started in started_app(create_app(make_settings(kafka_bootstrap="127.0.0.1:1")), State):
        srv = UvicornServer(started)
        await srv.start()
        try:
            yield srv
        finally:
            await srv.stop()
