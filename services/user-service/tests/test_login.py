"""CONTRACT §3 login: form and JSON, same 401 either way, throttling, bcrypt upgrade."""

from __future__ import annotations

from typing import Any

import httpx
from passlib.hash import bcrypt
from sqlalchemy import select, update

from app.core.state import State
from app.models.user import User

from .conftest import login, register


async def test_form_login_with_username_or_email(client: httpx.AsyncClient) -> None:
    user = await register(client)
    for identifier in (user["username"], user["email"], user["username"].upper()):
        response = await client.post("/auth/login", data={"username": identifier, "password": "correct-horse-9"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 900
        assert body["access_token"] and body["refresh_token"]


async def test_wrong_password_and_unknown_account_look_the_same(client: httpx.AsyncClient) -> None:
    user = await register(client)
    wrong = await client.post("/auth/login/json", json={"email": user["email"], "password": "wrong-password-1"})
    unknown = await client.post("/auth/login/json", json={"email": "nobody@example.com", "password": "whatever-12"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_login_json_closed_body(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/login/json", json={"email": "a@example.com", "password": "x", "extra": 1})
    assert response.status_code == 422


async def test_repeated_failures_are_throttled_per_account_and_address(client: httpx.AsyncClient) -> None:
    user = await register(client)
    for _ in range(5):
        response = await client.post("/auth/login/json", json={"email": user["email"], "password": "bad-guess-1"})
        assert response.status_code == 401
    throttled = await client.post("/auth/login/json", json={"email": user["email"], "password": "correct-horse-9"})
    assert throttled.status_code == 429
    assert 0 < int(throttled.headers["retry-after"]) <= 900
    metrics = (await client.get("/metrics")).text
    assert 'user_login_throttled_total{scope="account_address"}' in metrics


async def test_throttle_per_address(client: httpx.AsyncClient, state: State) -> None:
    limit = state.settings.login_max_failures_per_address
    for i in range(limit):
        await client.post("/auth/login/json", json={"email": f"ghost{i}@example.com", "password": "bad-guess-1"})
    response = await client.post("/auth/login/json", json={"email": "another@example.com", "password": "x-guess-1"})
    assert response.status_code == 429 and "retry-after" in response.headers


async def test_bcrypt_hash_verifies_and_is_upgraded(client: httpx.AsyncClient, state: State) -> None:
    user = await register(client)
    maker = state.sessionmaker
    legacy = bcrypt.using(rounds=4).hash("legacy-password-1")
    async with maker() as session, session.begin():
        await session.execute(update(User).where(User.id == user["id"]).values(password_hash=legacy))
    await login(client, user["email"], "legacy-password-1")
    async with maker() as session:
        stored = await session.scalar(select(User.password_hash).where(User.id == user["id"]))
    assert stored is not None and stored.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in stored
    await login(client, user["email"], "legacy-password-1")


async def test_overload_is_refused_fast_not_queued(make_settings: Any) -> None:
    """Beyond the hashing pool's capacity, logins/registrations get 503 + Retry-After at once."""
    import asyncio

    from app.factory import create_app
    from chat_shared.testing.fixtures import asgi_client, started_app

    from .conftest import unique_name

    async for small in started_app(create_app(make_settings(hash_threads=1, hash_queue_limit=1)), State):
        async with asgi_client(small) as client:
            names = [unique_name("burst") for _ in range(12)]
            responses = await asyncio.gather(
                *(
                    client.post(
                        "/auth/register",
                        json={"email": f"{n}@example.com", "username": n, "password": "correct-horse-9"},
                    )
                    for n in names
                )
            )
            statuses = sorted(r.status_code for r in responses)
            assert set(statuses) == {201, 503}, statuses
            assert statuses.count(201) >= 2
            refused = [r for r in responses if r.status_code == 503]
            assert all(r.headers["retry-after"] == "1" for r in refused)
            assert "user_auth_overload_refused_total" in (await client.get("/metrics")).text
