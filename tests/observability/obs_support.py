"""Helpers of the observability suite: a parsed ``/metrics`` scrape, polling, and the journey with secrets.

The journey goes through the gateway only and keeps every secret it handles (the password, a wrong
password, access and refresh tokens, a stream ticket, a message body with a unique marker), so that
test_log_secrets.py can look for each of them in the logs and test_live_metrics.py can check what the
same traffic left in the metrics.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families

T = TypeVar("T")
_TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$", re.MULTILINE)
_HELP_LINE = re.compile(r"^# HELP (\S+) ", re.MULTILINE)


# --------------------------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass
class Scrape:
    """One ``/metrics`` answer: the declared families (``# TYPE``/``# HELP``) and every sample."""

    text: str
    types: dict[str, str] = field(default_factory=dict)
    helps: set[str] = field(default_factory=set)
    samples: list[Sample] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Scrape:
        scrape = cls(text)
        scrape.types = dict(_TYPE_LINE.findall(text))
        scrape.helps = set(_HELP_LINE.findall(text))
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                scrape.samples.append(Sample(s.name, dict(s.labels), float(s.value)))
        return scrape

    def series(self, name: str, **labels: str) -> list[Sample]:
        """Samples named ``name`` whose labels include ``labels``."""
        return [s for s in self.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the matching samples (0 when there is none)."""
        return sum(s.value for s in self.series(name, **labels))

    def label_values(self, name: str, label: str) -> set[str]:
        return {s.labels[label] for s in self.samples if s.name == name and label in s.labels}


async def scrape(client: httpx.AsyncClient, base_url: str) -> Scrape:
    r = await client.get(f"{base_url}/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain"), r.headers["content-type"]
    return Scrape.parse(r.text)


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, timeout: float = 15.0, interval: float = 0.1
) -> T:
    """Call ``probe`` until it returns something other than None; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            result = await probe()
        except AssertionError as exc:
            result, last = None, exc
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f": {last}" if last else ""))
        await asyncio.sleep(interval)


# --------------------------------------------------------------------------------------------- journey


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
    timeout = httpx.Timeout(10.0, read=None)
    async with client.stream("GET", "/api/stream", params={"ticket": ticket}, timeout=timeout) as stream:
        assert stream.status_code == 200, await stream.aread()
        lines = stream.aiter_lines()
        r = await client.post(
            f"/api/rooms/{journey.room_id}/messages",
            headers={**alice.auth, "X-Request-ID": journey.request_id},
            json={"content": f"hello {journey.marker}", "message_type": "text"},
        )
        assert r.status_code == 201, r.text
        assert r.headers["x-request-id"] == journey.request_id

        async def delivered() -> None:
            async for line in lines:
                if line.startswith("data:") and journey.marker in line:
                    return

        await asyncio.wait_for(delivered(), timeout=10)
    counts.update(messages=1, streams=1)

    r = await client.get(f"/api/rooms/{journey.room_id}/messages", headers=bob.auth)
    assert r.status_code == 200, r.text
    assert any(journey.marker in (m.get("content") or "") for m in r.json()["items"])
    r = await client.get("/api/rooms", headers=bob.auth)
    assert r.status_code == 200, r.text
    return journey
