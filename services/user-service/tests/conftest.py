"""user-service test fixtures: the real app on a fresh MySQL database, real Redis and broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from app.core.keys import generate_private_pem
from app.core.state import State
from app.factory import create_app
from chat_shared.testing.fixtures import StartedApp, asgi_client, reset_state, started_app
from chat_shared.testing.s3 import S3Server, store_settings

pytest_plugins = ["chat_shared.testing.fixtures", "chat_shared.testing.s3"]

SERVICE_DIR = Path(__file__).resolve().parent.parent
_counter = count(1)


@pytest.fixture(scope="session")
def service_dir() -> Path:
    return SERVICE_DIR


@pytest.fixture(scope="session")
def db_prefix() -> str:
    return "test_user"


@pytest.fixture(scope="session")
def private_key() -> str:
    return generate_private_pem()


@pytest.fixture(scope="session")
def make_settings(mysql_url: str, redis_url: str, kafka_bootstrap: str, private_key: str, s3_server: S3Server) -> Any:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            **store_settings(s3_server, "user-test"),
            "environment": "test",
            "database_url": mysql_url,
            "redis_url": redis_url,
            "kafka_bootstrap": kafka_bootstrap,
            "kafka_enable_idempotence": False,
            "jwt_private_key": private_key,
            "jwt_key_id": "test-key",
            "argon2_memory_kib": 19 * 1024,
            "outbox_poll_interval_s": 0.1,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture(scope="session")
def settings(make_settings: Any) -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[StartedApp[State]]:
    async for started in started_app(create_app(settings), State):
        yield started


@pytest.fixture(scope="session")
def state(app: StartedApp[State]) -> State:
    """The session app's typed state (its stores, settings and runtime)."""
    return app.state


@pytest.fixture(autouse=True)
async def _clean(state: State, redis_url: str) -> None:
    await reset_state(state, redis_url)


@pytest.fixture
async def client(app: StartedApp[State]) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as c:
        yield c


def unique_name(prefix: str = "user") -> str:
    """A username unique within the session (3–20 chars)."""
    return f"{prefix}{next(_counter)}"


async def register(
    client: httpx.AsyncClient, name: str | None = None, password: str = "correct-horse-9", **extra: Any
) -> dict[str, Any]:
    """Register an account and return its profile (asserting 201)."""
    name = name or unique_name()
    response = await client.post(
        "/auth/register", json={"email": f"{name}@example.com", "username": name, "password": password, **extra}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def login(client: httpx.AsyncClient, email: str, password: str = "correct-horse-9") -> dict[str, Any]:
    """Log in with JSON and return the token pair (asserting 200)."""
    response = await client.post("/auth/login/json", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def auth_headers(client: httpx.AsyncClient, name: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """A new user and bearer headers for them."""
    user = await register(client, name)
    tokens = await login(client, user["email"])
    return user, {"Authorization": f"Bearer {tokens['access_token']}"}
