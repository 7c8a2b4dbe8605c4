"""Replica lag covered by the fallback lookup on a real user-service; user-service down or hung → 503, and
after a few failures the circuit opens: no call at all until its window (an injected clock) has passed."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from app.core.state import State
from app.models.friend import ReplicaUser
from app.services.user_directory import UserDirectory
from chat_shared.testing.broker import free_port
from chat_shared.testing.clock import ManualClock
from chat_shared.testing.fixtures import StartedApp
from chat_shared.testing.metrics import Scrape, scrape
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


def fallbacks(metrics: Scrape, result: str) -> float:
    return metrics.value("friend_user_lookup_fallback_total", result=result)


async def test_user_registered_a_moment_ago_can_be_befriended(
    client: httpx.AsyncClient, state: State, user_service: str, kafka_bootstrap: str
) -> None:
    suffix = uuid.uuid4().hex[:8]
    alice, alice_headers = await register(user_service, f"al{suffix}")
    bob, _ = await register(user_service, f"bo{suffix}")
    before = await scrape(client)
    async with state.sessionmaker() as session:
        assert await session.get(ReplicaUser, bob["id"]) is None  # the replica has not heard of bob

    sent = await client.post("/friends/requests", json={"user_id": bob["id"]}, headers=alice_headers)
    assert sent.status_code == 201, sent.text
    async with state.sessionmaker() as session:
        row = await session.get(ReplicaUser, bob["id"])
    assert row is not None and (row.username, row.display_name) == (bob["username"], bob["display_name"])
    assert fallbacks(await scrape(client), "hit") == fallbacks(before, "hit") + 1
    await friend_events(kafka_bootstrap, [alice["id"]], lambda evs: types(evs) == ["FriendRequestSent"])

    # An id user-service does not know either → 404, counted as a miss.
    unknown = await client.post("/friends/requests", json={"user_id": 987_654_321}, headers=alice_headers)
    assert unknown.status_code == 404
    assert fallbacks(await scrape(client), "miss") == fallbacks(before, "miss") + 1
    assert (await client.post("/blocks", json={"user_id": 987_654_321}, headers=alice_headers)).status_code == 404


@pytest.fixture
async def swap_directory(app: StartedApp[State]) -> AsyncIterator[Any]:
    """Point the fallback lookup at another address for one test (an edge, not our own store)."""
    original = app.state
    made: list[UserDirectory] = []

    def swap(url: str, timeout_s: float = 0.5, threshold: int = 3, clock: ManualClock | None = None) -> UserDirectory:
        directory = UserDirectory(url, timeout_s, threshold, OPEN_S, clock or ManualClock())
        made.append(directory)
        app.state = dataclasses.replace(original, user_directory=directory)
        return directory

    yield swap
    app.state = original
    for directory in made:
        await directory.close()


OPEN_S = 30.0


@dataclass
class SilentServer:
    """Accepts connections and never answers: a hung user-service. ``accepted`` counts the calls."""

    url: str = ""
    held: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return len(self.held)


@pytest.fixture
async def silent_server() -> AsyncIterator[SilentServer]:
    silent = SilentServer()

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    silent.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    yield silent
    server.close()
    for writer in silent.held:
        writer.close()


async def test_user_service_down_gives_503_then_the_circuit_opens(
    client: httpx.AsyncClient, users: UserFactory, swap_directory: Any
) -> None:
    directory = swap_directory(f"http://127.0.0.1:{free_port()}", threshold=3)  # nothing listens there
    alice = await users.make()
    before = await scrape(client)
    for _ in range(3):
        response = await client.post("/friends/requests", json={"user_id": 55_555_555}, headers=alice.headers)
        assert response.status_code == 503 and "Retry-After" in response.headers
    assert directory.breaker.is_open
    refused = await client.post("/friends/requests", json={"user_id": 55_555_555}, headers=alice.headers)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == str(int(OPEN_S))
    after = await scrape(client)
    assert fallbacks(after, "error") == fallbacks(before, "error") + 3
    assert fallbacks(after, "circuit_open") == fallbacks(before, "circuit_open") + 1
    # Users the replica knows are unaffected by the outage.
    bob = await users.make()
    assert (await client.post("/friends/requests", json={"user_id": bob.id}, headers=alice.headers)).status_code == 201


async def test_hung_user_service_times_out_and_an_open_circuit_calls_nobody(
    client: httpx.AsyncClient, users: UserFactory, swap_directory: Any, silent_server: SilentServer
) -> None:
    clock = ManualClock()
    directory = swap_directory(silent_server.url, timeout_s=0.5, threshold=2, clock=clock)
    alice = await users.make()

    async def befriend_unknown() -> int:
        response = await client.post("/friends/requests", json={"user_id": 55_555_556}, headers=alice.headers)
        return response.status_code

    assert [await befriend_unknown(), await befriend_unknown()] == [503, 503]
    assert silent_server.accepted == 2 and directory.breaker.is_open
    assert await befriend_unknown() == 503
    assert silent_server.accepted == 2, "an open circuit answers without calling user-service"
    clock.advance(OPEN_S + 1)
    assert await befriend_unknown() == 503
    assert silent_server.accepted == 3, "after the window one trial call goes through"
    assert directory.breaker.is_open, "and its failure opens the circuit again"
