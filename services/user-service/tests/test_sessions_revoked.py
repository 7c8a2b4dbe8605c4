"""Sessions end everywhere: logout, a password change and a reused refresh token revoke their sessions'
access tokens (``sid``), announced as ``SessionsRevoked`` on user.events and applied by this service's own
revocation consumer, through the HTTP surface with the real broker and Redis."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from jose import jwt

from app.core.state import State
from chat_shared.revocation import consumer_group
from chat_shared.testing.broker import holds_every_partition, read_events
from chat_shared.testing.fixtures import StartedApp, asgi_client
from chat_shared.testing.waiting import eventually

from .conftest import login, register

#: How soon a revocation reaches every process in normal operation (docs/architecture.md, "Revocation").
REVOCATION_WINDOW_S = 5.0


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def sid(tokens: dict[str, Any]) -> str:
    return str(jwt.get_unverified_claims(tokens["access_token"])["sid"])


async def refused(client: httpx.AsyncClient, tokens: dict[str, Any]) -> bool:
    return (await client.get("/profile/me", headers=bearer(tokens))).status_code == 401


async def revocations_of(kafka_bootstrap: str, user_id: int, count: int = 1) -> list[dict[str, Any]]:
    def mine(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in events if e.get("event_type") == "SessionsRevoked" and e["payload"]["user_id"] == user_id]

    return mine(await read_events(kafka_bootstrap, "user.events", lambda evs: len(mine(evs)) >= count))


@pytest.fixture(scope="module", autouse=True)
async def _revocations_flow(app: StartedApp[State]) -> None:
    """The session app's revocation consumer holds every partition of user.events: apps that other tests
    started in the same group have left (their rebalance is start-up, not normal operation)."""
    [consumer] = [c for c in app.state.runtime.consumers if c.group_id == consumer_group("user-service")]
    await eventually(lambda: holds_every_partition(consumer), "the revocation consumer to hold every partition")
    async with asgi_client(app) as client:
        user = await register(client)
        tokens = await login(client, user["email"])
        await client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
        await eventually(lambda: refused(client, tokens), "a first revocation applied")


async def test_a_session_is_a_refresh_family_named_by_sid(client: httpx.AsyncClient) -> None:
    user = await register(client)
    first = await login(client, user["email"])
    refreshed = (await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    other = await login(client, user["email"])
    assert len(sid(first)) == 32
    assert sid(refreshed) == sid(first), "refreshing keeps the session"
    assert sid(other) != sid(first), "each login starts a session"


async def test_logout_kills_the_sessions_access_tokens_only(client: httpx.AsyncClient, kafka_bootstrap: str) -> None:
    user = await register(client)
    phone, laptop = await login(client, user["email"]), await login(client, user["email"])
    assert not await refused(client, phone)
    assert (await client.post("/auth/logout", json={"refresh_token": phone["refresh_token"]})).status_code == 204

    await eventually(lambda: refused(client, phone), "phone refused", timeout=REVOCATION_WINDOW_S)
    assert (await client.get("/profile/me", headers=bearer(phone))).json() == {"detail": "Session revoked"}
    assert (await client.get("/profile/me", headers=bearer(laptop))).status_code == 200, "another session lives"
    [event] = await revocations_of(kafka_bootstrap, user["id"])
    assert event["payload"]["session_ids"] == [sid(phone)]
    assert event["payload"]["not_before"] is None and event["payload"]["reason"] == "logout"
    assert phone["refresh_token"] not in str(event) and phone["access_token"] not in str(event)
    # Logging out again is accepted and announces nothing new.
    assert (await client.post("/auth/logout", json={"refresh_token": phone["refresh_token"]})).status_code == 204
    await client.post("/auth/logout", json={"refresh_token": laptop["refresh_token"]})
    events = await revocations_of(kafka_bootstrap, user["id"], count=2)
    assert [e["payload"]["session_ids"] for e in events] == [[sid(phone)], [sid(laptop)]]


async def test_logout_with_an_older_token_of_the_session_ends_it(client: httpx.AsyncClient) -> None:
    user = await register(client)
    first = await login(client, user["email"])
    latest = (await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    assert (await client.post("/auth/logout", json={"refresh_token": first["refresh_token"]})).status_code == 204
    assert (await client.post("/auth/refresh", json={"refresh_token": latest["refresh_token"]})).status_code == 401
    await eventually(lambda: refused(client, latest), "latest refused", timeout=REVOCATION_WINDOW_S)


async def test_password_change_ends_every_session(client: httpx.AsyncClient, kafka_bootstrap: str) -> None:
    user = await register(client)
    phone, laptop = await login(client, user["email"]), await login(client, user["email"])
    changed = await client.put(
        "/profile/me/password",
        headers=bearer(laptop),
        json={"current_password": "correct-horse-9", "new_password": "new-password-42"},
    )
    assert changed.status_code == 204
    # A login right after the change (in the same second, often) starts a session that lives.
    fresh = await login(client, user["email"], "new-password-42")

    await eventually(lambda: refused(client, phone), "phone refused", timeout=REVOCATION_WINDOW_S)
    await eventually(lambda: refused(client, laptop), "laptop refused", timeout=REVOCATION_WINDOW_S)
    assert (await client.get("/profile/me", headers=bearer(fresh))).status_code == 200
    [event] = await revocations_of(kafka_bootstrap, user["id"])
    payload = event["payload"]
    assert sorted(payload["session_ids"]) == sorted([sid(phone), sid(laptop)])
    assert payload["not_before"] is not None and payload["reason"] == "password_change"


async def test_a_reused_refresh_token_kills_its_sessions_access_tokens(
    client: httpx.AsyncClient, kafka_bootstrap: str
) -> None:
    user = await register(client)
    stolen = await login(client, user["email"])
    current = (await client.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]})).json()
    assert (await client.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]})).status_code == 401
    await eventually(lambda: refused(client, current), "current refused", timeout=REVOCATION_WINDOW_S)
    [event] = await revocations_of(kafka_bootstrap, user["id"])
    assert event["payload"]["session_ids"] == [sid(current)]
    assert event["payload"]["reason"] == "refresh_token_reuse"
