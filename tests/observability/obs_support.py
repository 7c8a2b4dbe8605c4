"""The observability suite's traffic: one journey through the gateway.

The journey goes through the gateway only and keeps every secret it handles (the password, a wrong
password, access and refresh tokens, a stream ticket, a message body with a unique marker), so that
test_log_secrets.py can look for each of them in the logs and test_live_metrics.py can check what the
same traffic left in the metrics.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from chat_shared.testing.sse import open_stream
from chat_shared.testing.waiting import eventually


@dataclass
class Account:
    id: int
    email: str
    access: str
    refresh: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


@dataclass
class Journey:
    """What the journey did and every secret it handled."""

    password: str
    wrong_password: str
    marker: str
    request_id: str  # sent with the message: the same id must show in the gateway's and chat-service's lines
    tokens: list[str] = field(default_factory=list)  # every access and refresh token issued
    tickets: list[str] = field(default_factory=list)
    room_id: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # what was done, for the metric assertions

    @property
    def secrets(self) -> dict[str, str]:
        """What must never reach a log line, by a name for the failure message."""
        found = {"password": self.password, "wrong password": self.wrong_password, "message marker": self.marker}
        found.update({f"token #{i}": t for i, t in enumerate(self.tokens)})
        found.update({f"stream ticket #{i}": t for i, t in enumerate(self.tickets)})
        return found


async def _register(client: httpx.AsyncClient, prefix: str, password: str) -> Account:
    username = f"{prefix}_{uuid.uuid4().hex[:10]}"
    email = f"{username}@example.com"
    r = await client.post("/api/auth/register", json={"email": email, "username": username, "password": password})
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    r = await client.post("/api/auth/login/json", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return Account(user_id, email, r.json()["access_token"], r.json()["refresh_token"])


async def run_journey(client: httpx.AsyncClient) -> Journey:
    """Register, log in (and fail once), refresh, befriend, open a room, stream with a ticket, send, read."""
    tag = uuid.uuid4().hex[:12]
    journey = Journey(
        password=f"Obs-pass-{tag}-horse",
        wrong_password=f"Obs-wrong-{tag}-staple",
        marker=f"obs-marker-{tag}",
        request_id=f"obs-req-{tag}",
    )
    counts = journey.counts
    alice = await _register(client, "obsa", journey.password)
    bob = await _register(client, "obsb", journey.password)
    vapid = await client.get("/api/notifications/vapid-public-key")
    assert vapid.status_code == 200, vapid.text
    journey.tokens += [alice.access, alice.refresh, bob.access, bob.refresh]
    counts.update(registrations=2, logins=2)

    r = await client.post("/api/auth/login/json", json={"email": alice.email, "password": journey.wrong_password})
    assert r.status_code == 401, r.text
    counts["failed_logins"] = 1

    r = await client.post("/api/auth/refresh", json={"refresh_token": alice.refresh})
    assert r.status_code == 200, r.text
    alice.access, alice.refresh = r.json()["access_token"], r.json()["refresh_token"]
    journey.tokens += [alice.access, alice.refresh]
    counts["refreshes"] = 1

    r = await client.post("/api/presence/heartbeat", headers=alice.auth)
    assert r.status_code in (200, 204), r.text

    async def ask() -> dict[str, Any] | None:
        r = await client.post("/api/friends/requests", json={"user_id": bob.id}, headers=alice.auth)
        if r.status_code == 404:  # bob not in friend-service's replica yet
            return None
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    request = await eventually(ask, "friend-service to know the new user")
    r = await client.post(f"/api/friends/requests/{request['id']}/accept", headers=bob.auth)
    assert r.status_code == 200, r.text
    counts["friend_requests"] = 1

    async def room() -> dict[str, Any] | None:
        r = await client.post("/api/rooms", json={"type": "direct", "member_ids": [bob.id]}, headers=alice.auth)
        if r.status_code == 403:  # chat-service has not consumed the friendship yet
            return None
        assert r.status_code in (200, 201), r.text
        body: dict[str, Any] = r.json()
        return body

    journey.room_id = (await eventually(room, "chat-service to learn the friendship"))["id"]

    r = await client.post("/api/stream/tickets", headers=bob.auth)
    assert r.status_code == 201, r.text
    ticket = r.json()["ticket"]
    journey.tickets.append(ticket)
    async with open_stream(client, "/api/stream", params={"ticket": ticket}) as stream:
        r = await client.post(
            f"/api/rooms/{journey.room_id}/messages",
            headers={**alice.auth, "X-Request-ID": journey.request_id},
            json={"content": f"hello {journey.marker}", "message_type": "text"},
        )
        assert r.status_code == 201, r.text
        assert r.headers["x-request-id"] == journey.request_id
        await stream.until(lambda e: journey.marker in str(e.data), "the message on bob's stream")
    counts.update(messages=1, streams=1)

    r = await client.get(f"/api/rooms/{journey.room_id}/messages", headers=bob.auth)
    assert r.status_code == 200, r.text
    assert any(journey.marker in (m.get("content") or "") for m in r.json()["items"])
    r = await client.get("/api/rooms", headers=bob.auth)
    assert r.status_code == 200, r.text
    return journey
