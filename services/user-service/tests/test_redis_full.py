"""A full Redis (``noeviction``, as deployed): logins keep working, a wrong password is still a 401."""

from __future__ import annotations

from typing import Any

from app.core.state import State
from app.factory import create_app
from chat_shared.testing.fixtures import asgi_client, started_app
from chat_shared.testing.redis_server import RedisServer

from .conftest import register


async def test_logins_keep_working_when_redis_is_full(make_settings: Any) -> None:
    with RedisServer(maxmemory="8mb") as server:
        async for app in started_app(create_app(make_settings(redis_url=server.url())), State):
            async with asgi_client(app) as client:
                user = await register(client)
                assert server.fill() > 0
                right = {"email": user["email"], "password": "correct-horse-9"}
                wrong = {"email": user["email"], "password": "not-the-password"}
                assert (await client.post("/auth/login/json", json=wrong)).status_code == 401
                assert (await client.post("/auth/login/json", json=right)).status_code == 200
