"""CONTRACT §1–2 operations routes and auth on every route."""

from __future__ import annotations

import httpx
import pytest

from chat_shared.testing.tokens import TestKeys

ROUTES = [
    ("GET", "/friends"),
    ("DELETE", "/friends/5"),
    ("GET", "/friends/requests"),
    ("POST", "/friends/requests"),
    ("POST", "/friends/requests/1/accept"),
    ("POST", "/friends/requests/1/reject"),
    ("DELETE", "/friends/requests/1"),
    ("GET", "/blocks"),
    ("POST", "/blocks"),
    ("DELETE", "/blocks/5"),
]


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "healthy", "service": "friend-service"}
    ready = await client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"mysql": "ok", "redis": "ok", "kafka": "ok"}


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_a_token(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path, json={"user_id": 5})
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


async def test_token_signed_by_another_key_is_refused(client: httpx.AsyncClient, keys: TestKeys) -> None:
    forged = TestKeys(kid=keys.kid)  # same kid, different key
    response = await client.get("/friends", headers=forged.headers(7))
    assert response.status_code == 401
    expired = await client.get("/friends", headers={"Authorization": f"Bearer {keys.token(7, ttl_s=-60)}"})
    assert expired.status_code == 401


async def test_metrics_are_exposed(client: httpx.AsyncClient, keys: TestKeys) -> None:
    await client.get("/friends", headers=keys.headers(7))
    text = (await client.get("/metrics")).text
    assert 'route="/friends"' in text
    for name in (
        "friend_requests_total",
        "friend_friendships_removed_total",
        "friend_blocks_total",
        "friend_user_lookup_fallback_total",
    ):
        assert name in text
