"""Replica lag covered by the fallback lookup on a real user-service; user-service down → fast 503."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.core.state import State
from app.models.friend import ReplicaUser
from app.services.user_directory import UserDirectory
from chat_shared.testing.broker import free_port
from chat_shared.testing.fixtures import StartedApp
from chat_shared.testing.tokens import TestKeys
from tests.helpers import UserFactory, friend_events, types


async def register(user_service: str, name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A new account on the real user-service, and bearer headers from its own login."""
    async with httpx.AsyncClient(base_url=user_service, timeout=10) as us:
        created = await us.post(
            "/auth/register",
            json={
                "email": f"{name}@example.com",
                "username": name,
                "password": "correct-horse-9",
                "display_name": name.title(),
            },
        )
        assert created.status_code == 201, created.text
        tokens = await us.post("/auth/login/json", json={"email": f"{name}@example.com", "password": "correct-horse-9"})
        assert tokens.status_code == 200, tokens.text
    return created.json(), {"Authorization": f"Bearer {tokens.json()['access_token']}"}


def fallback_count(text: str, result: str) -> float:
    line = next(
        (x for x in text.splitlines() if x.startswith(f'friend_user_lookup_fallback_total{{result="{result}"}}')), None
    )
    return float(line.split()[-1]) if line else 0.0


async def test_user_registered_a_moment_ago_can_be_befriended(
    client: httpx.AsyncClient, state: State, user_service: str, kafka_bootstrap: str
) -> None:
    suffix = str(int(time.time() * 1000))[-8:]
    alice, alice_headers = await register(user_service, f"al{suffix}")
    bob, _ = await register(user_service, f"bo{suffix}")
    before = (await client.get("/metrics")).text
    async with state.sessionmaker() as session:
        assert await session.get(ReplicaUser, bob["id"]) is None  # the replica has not heard of bob

    sent = await client.post("/friends/requests", json={"user_id": bob["id"]}, headers=alice_headers)
    assert sent.status_code == 201, sent.text
    async with state.sessionmaker() as session:
        row = await session.get(ReplicaUser, bob["id"])
    assert row is not None and (row.username, row.display_name) == (bob["username"], bob["display_name"])
    after = (await client.get("/metrics")).text
    assert fallback_count(after, "hit") == fallback_count(before, "hit") + 1
    await friend_events(kafka_bootstrap, [alice["id"]], lambda evs: types(evs) == ["FriendRequestSent"])

    # An id user-service does not know either → 404, counted as a miss.
    unknown = await client.post("/friends/requests", json={"user_id": 987_654_321}, headers=alice_headers)
    assert unknown.status_code == 404
    assert fallback_count((await client.get("/metrics")).text, "miss") == fallback_count(before, "miss") + 1
    assert (await client.post("/blocks", json={"user_id": 987_654_321}, headers=alice_headers)).status_code == 404


@pytest.fixture
async def swap_directory(app: StartedApp[State]) -> AsyncIterator[Any]:
    """Point the fallback lookup at another address for one test (an edge, not our own store)."""
    original = app.state
    made: list[UserDirectory] = []

    def swap(url: str, timeout_s: float = 0.5, threshold: int = 3, open_s: float = 30.0) -> UserDirectory:
        directory = UserDirectory(url, timeout_s, threshold, open_s)
        made.append(directory)
        app.state = dataclasses.replace(original, user_directory=directory)
        return directory

    yield swap
    app.state = original
    for directory in made:
        await directory.close()


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """Accepts connections and never answers: a hung user-service."""
    port = free_port()
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", port)
    yield f"http://127.0.0.1:{port}"
    server.close()
    for writer in held:
        writer.close()


async def test_user_service_down_gives_503_fast_then_circuit_opens(
    client: httpx.AsyncClient, users: UserFactory, swap_directory: Any, keys: TestKeys
) -> None:
    directory = swap_directory(f"http://127.0.0.1:{free_port()}", threshold=3)  # nothing listens there
    alice = await users.make()
    before = (await client.get("/metrics")).text
    for _ in range(3):
        started = time.monotonic()
        response = await client.post("/friends/requests", json={"user_id": 55_555_555}, headers=alice.headers)
        assert response.status_code == 503 and "Retry-After" in response.headers
        assert time.monotonic() - started < 1.0
    assert directory.breaker.is_open
    started = time.monotonic()
    refused = await client.post("/friends/requests", json={"user_id": 55_555_555}, headers=alice.headers)
    assert refused.status_code == 503 and time.monotonic() - started < 0.2
    after = (await client.get("/metrics")).text
    assert fallback_count(after, "error") == fallback_count(before, "error") + 3
    assert fallback_count(after, "circuit_open") == fallback_count(before, "circuit_open") + 1
    # Users the replica knows are unaffected by the outage.
    bob = await users.make()
    assert (await client.post("/friends/requests", json={"user_id": bob.id}, headers=alice.headers)).status_code == 201


async def test_hung_user_service_times_out(
    client: httpx.AsyncClient, users: UserFactory, swap_directory: Any, silent_server: str
) -> None:
    swap_directory(silent_server, timeout_s=0.5)
    alice = await users.make()
    started = time.monotonic()
    response = await client.post("/friends/requests", json={"user_id": 55_555_556}, headers=alice.headers)
    assert response.status_code == 503
    assert 0.4 < time.monotonic() - started < 1.5
