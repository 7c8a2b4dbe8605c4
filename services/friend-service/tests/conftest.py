"""friend-service test fixtures: the real app on a fresh MariaDB database, real Redis and broker, and a
real user-service process for the fallback lookup."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from app.core.config import Settings
from app.core.state import State
from app.factory import create_app
from chat_shared.testing import databases
from chat_shared.testing.broker import Broker, free_port
from chat_shared.testing.fixtures import StartedApp, asgi_client, reset_state, started_app
from chat_shared.testing.processes import stop_process, wait_for_http
from chat_shared.testing.tokens import TestKeys

pytest_plugins = ["chat_shared.testing.fixtures"]

SERVICE_DIR = Path(__file__).resolve().parent.parent
USER_SERVICE_DIR = SERVICE_DIR.parent / "user-service"
VENV_BIN = SERVICE_DIR.parent.parent / ".venv" / "bin"


@pytest.fixture(scope="session")
def service_dir() -> Path:
    return SERVICE_DIR


@pytest.fixture(scope="session")
def db_prefix() -> str:
    return "test_friend"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """friend-service's tests own Redis logical db 10 (other suites use other dbs)."""
    return os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/10")


@pytest.fixture(scope="session")
def keys() -> TestKeys:
    """The key pair standing in for user-service's (user-service below signs with it too)."""
    return TestKeys()


@pytest.fixture(scope="session")
async def user_service(keys: TestKeys, redis_url: str) -> AsyncIterator[str]:
    """A real user-service process (its own database and broker, so its ``UserRegistered`` never reaches
    friend-service's replica: replica lag is then a certainty, not a race)."""
    url = await databases.create_database("test_userfx")
    broker = Broker().start()
    port = free_port()
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": url,
        "RUN_MIGRATIONS_ON_START": "true",
        "REDIS_URL": urlsplit(redis_url)._replace(path="/12").geturl(),  # the tests' server, its own db
        "KAFKA_BOOTSTRAP": broker.bootstrap,
        "KAFKA_ENABLE_IDEMPOTENCE": "false",
        "JWT_PRIVATE_KEY": keys.private_pem,
        "JWT_KEY_ID": keys.kid,
        "LOG_LEVEL": "WARNING",
    }
    log = Path(tempfile.mkstemp(prefix="friend-tests-user-service-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(VENV_BIN / "uvicorn"), "main:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=USER_SERVICE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_for_http(f"{base}/health", process, what="user-service", log=log)
        yield base
    finally:
        stop_process(process)
        broker.stop()
        await databases.drop_database(url)


@pytest.fixture(scope="session")
def settings(mysql_url: str, redis_url: str, kafka_bootstrap: str, keys: TestKeys, user_service: str) -> Settings:
    return Settings(
        environment="test",
        database_url=mysql_url,
        redis_url=redis_url,
        kafka_bootstrap=kafka_bootstrap,
        kafka_enable_idempotence=False,
        jwt_public_key=keys.public_pem,
        jwt_public_key_id=keys.kid,
        user_service_url=user_service,
        user_lookup_timeout_s=1.0,
        user_lookup_failure_threshold=3,
        user_lookup_open_s=30.0,
        outbox_poll_interval_s=0.1,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings, kafka_bootstrap: str) -> AsyncIterator[StartedApp[State]]:
    async for started in started_app(create_app(settings), State):
        await warm_up_consumers(started.state, kafka_bootstrap)
        yield started


@pytest.fixture(scope="session")
def state(app: StartedApp[State]) -> State:
    """The session app's typed state (its stores, settings and runtime)."""
    return app.state


async def warm_up_consumers(state: State, bootstrap: str) -> None:
    """Wait until every consumer group joined and applied an event, so tests time steady-state lag only
    (the first group join on a fresh broker takes a few seconds)."""
    from datetime import UTC, datetime

    from app.models.friend import ReplicaUser
    from app.services.presence import presence_key
    from chat_shared.events.topics import USER_EVENTS, USER_ONLINE_STATUS
    from chat_shared.testing.waiting import eventually
    from tests.helpers import envelope, publish

    now = datetime.now(UTC).isoformat()
    await publish(
        bootstrap,
        USER_EVENTS,
        envelope("UserRegistered", {"user_id": 1, "username": "warmup", "display_name": "warm", "created_at": now}),
        1,
    )
    await publish(bootstrap, USER_ONLINE_STATUS, envelope("UserOnline", {"user_id": 1, "at": now}), 1)
    revoked = {"user_id": 1, "session_ids": ["warmup"], "reason": "logout", "revoked_at": now}
    await publish(bootstrap, USER_EVENTS, envelope("SessionsRevoked", revoked), 1)

    async def replica_has_it() -> bool:
        async with state.sessionmaker() as session:
            return await session.get(ReplicaUser, 1) is not None

    await eventually(replica_has_it, "the users replica to apply a first event")
    await eventually(lambda: state.redis.exists(presence_key(1)), "the presence replica to apply a first event")
    await eventually(
        lambda: state.runtime.revocations.is_revoked(1, "warmup", 0), "the revocation feed to apply a first event"
    )


@pytest.fixture(autouse=True)
async def _clean(state: State, redis_url: str) -> None:
    await reset_state(state, redis_url)
    state.user_directory.breaker.reset()


@pytest.fixture
async def client(app: StartedApp[State]) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as c:
        yield c


@pytest.fixture
def users(state: State, keys: TestKeys) -> Any:
    """Factory of replicated users: ``await users.make()`` → a :class:`tests.helpers.TestUser`."""
    from tests.helpers import UserFactory

    return UserFactory(state, keys)
