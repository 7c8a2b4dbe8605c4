"""notification-service test fixtures: the real app on a fresh MariaDB database, real Redis and broker, a
clock the tests move, and local stand-ins of the outside world (a Web Push receiver, an FCM server, the SMTP
sink) that speak the real protocols."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from app.core.state import State
from app.factory import create_app
from chat_shared.testing.clock import ManualClock
from chat_shared.testing.fixtures import StartedApp, asgi_client, reset_state, started_app
from chat_shared.testing.tokens import TestKeys
from tests.fakes.fcm_server import FcmServer
from tests.fakes.push_receiver import PushReceiver
from tests.fakes.smtp_sink import SmtpSink

pytest_plugins = ["chat_shared.testing.fixtures"]

SERVICE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def service_dir() -> Path:
    return SERVICE_DIR


@pytest.fixture(scope="session")
def db_prefix() -> str:
    return "test_notification"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """notification-service's tests own Redis logical db 13 (other suites use other dbs)."""
    return os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture(scope="session")
def keys() -> TestKeys:
    return TestKeys()


@pytest.fixture(scope="session")
def clock() -> ManualClock:
    """Epoch seconds that move only when a test says so (collapse windows, retry backoff)."""
    return ManualClock(now=time.time())


@pytest.fixture(scope="session")
async def receiver() -> AsyncIterator[PushReceiver]:
    async with PushReceiver() as r:
        yield r


@pytest.fixture(scope="session")
async def fcm_server() -> AsyncIterator[FcmServer]:
    async with FcmServer() as f:
        yield f


@pytest.fixture(scope="session")
def smtp_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpSink]:
    sink = SmtpSink(tmp_path_factory.mktemp("mail"))
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(scope="session")
def settings(
    mysql_url: str,
    redis_url: str,
    kafka_bootstrap: str,
    keys: TestKeys,
    fcm_server: FcmServer,
    smtp_sink: SmtpSink,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    return Settings(
        environment="test",
        database_url=mysql_url,
        redis_url=redis_url,
        kafka_bootstrap=kafka_bootstrap,
        kafka_enable_idempotence=False,
        jwt_public_key=keys.public_pem,
        jwt_public_key_id=keys.kid,
        outbox_poll_interval_s=0.1,
        push_allow_loopback=True,
        fcm_credentials_file=str(fcm_server.write_credentials(tmp_path_factory.mktemp("fcm"))),
        fcm_base_url=fcm_server.url,
        smtp_port=smtp_sink.port,
        push_timeout_s=2.0,
        dispatch_poll_s=0.05,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings, clock: ManualClock, kafka_bootstrap: str) -> AsyncIterator[StartedApp[State]]:
    async for started in started_app(create_app(settings, clock), State):
        from tests.helpers import warm_up_consumers

        await warm_up_consumers(started.state, kafka_bootstrap)
        yield started


@pytest.fixture(scope="session")
def state(app: StartedApp[State]) -> State:
    return app.state


@pytest.fixture(autouse=True)
async def _clean(state: State, redis_url: str, receiver: PushReceiver, clock: ManualClock) -> None:
    await reset_state(state, redis_url)
    receiver.reset()
    clock.now = time.time()


@pytest.fixture
async def client(app: StartedApp[State]) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as c:
        yield c


@pytest.fixture
def world(state: State, keys: TestKeys, kafka_bootstrap: str, receiver: PushReceiver) -> Any:
    """Builds users, rooms and events as the other services would publish them."""
    from tests.helpers import World

    return World(state, keys, kafka_bootstrap, receiver)
