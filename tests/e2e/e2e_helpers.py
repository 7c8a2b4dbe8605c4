"""Helpers of the e2e suite: users, polling with a deadline, and a Server-Sent Events reader."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
PASSWORD = "correct horse battery staple"


@dataclass
class User:
    """A registered, logged-in account."""

    id: int
    username: str
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, timeout: float = 15.0, interval: float = 0.1
) -> T:
    """Call ``probe`` until it returns something other than None; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            result = await probe()
        except AssertionError as exc:  # a probe may assert; keep its message for the failure
            result, last = None, exc
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f": {last}" if last else ""))
        await asyncio.sleep(interval)


@dataclass
class Api:
    """The public API through the gateway."""

    client: httpx.AsyncClient

    async def new_user(self, prefix: str = "u") -> User:
        suffix = uuid.uuid4().hex[:10]
        username = f"{prefix}_{suffix}"[:20]
        email = f"{username}@example.com"
        r = await self.client.post(
            "/api/auth/register", json={"email": email, "username": username, "password": PASSWORD}
        )
        assert r.status_code == 201, r.text
        user_id = r.json()["id"]
        r = await self.client.post("/api/auth/login/json", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return User(user_id, username, email, r.json()["access_token"])

    async def befriend(self, a: User, b: User) -> None:
        """``a`` asks, ``b`` accepts; waits for friend-service to know ``b`` (replica or fallback)."""

        async def ask() -> dict[str, Any] | None:
            r = await self.client.post("/api/friends/requests", json={"user_id": b.id}, headers=a.auth)
            if r.status_code == 404:  # b not in friend-service's replica yet and no fallback answer
                return None
            assert r.status_code == 201, r.text
            body: dict[str, Any] = r.json()
            return body

        request = await eventually(ask, "friend-service to accept a request to a new user")
        assert request["status"] == "pending"
        r = await self.client.post(f"/api/friends/requests/{request['id']}/accept", headers=b.auth)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "accepted"

    async def direct_room(self, a: User, b: User, timeout: float = 15.0) -> dict[str, Any]:
        """The direct room of two friends, once chat-service has the friendship (friend.events)."""

        async def create() -> dict[str, Any] | None:
            r = await self.client.post("/api/rooms", json={"type": "direct", "member_ids": [b.id]}, headers=a.auth)
            if r.status_code == 403:
                return None
            assert r.status_code in (200, 201), r.text
            body: dict[str, Any] = r.json()
            return body

        return await eventually(create, "chat-service to learn the friendship", timeout)

    async def send(self, user: User, room_id: int, content: str, client_msg_id: str | None = None) -> httpx.Response:
        return await self.client.post(
            f"/api/rooms/{room_id}/messages",
            headers=user.auth,
            json={"content": content, "message_type": "text", "client_msg_id": client_msg_id or uuid.uuid4().hex},
        )

    async def room_of(self, user: User, room_id: int) -> dict[str, Any]:
        r = await self.client.get("/api/rooms", headers=user.auth)
        assert r.status_code == 200, r.text
        rooms = [room for room in r.json()["items"] if room["id"] == room_id]
        assert rooms, f"room {room_id} not in {user.username}'s list"
        room: dict[str, Any] = rooms[0]
        return room


@dataclass
class Event:
    """One Server-Sent Event."""

    id: str | None
    event: str
    data: Any


@dataclass
class Stream:
    """``GET /api/stream`` read in the background; events land in a queue as they arrive."""

    client: httpx.AsyncClient
    headers: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)  # ``?ticket=`` for a browser's stream
    events: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    status: int | None = None
    _task: asyncio.Task[None] | None = None
    _opened: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> Stream:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._opened.wait(), timeout=15)
        assert self.status == 200, f"stream answered {self.status}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        timeout = httpx.Timeout(10.0, read=None)
        try:
            async with self.client.stream(
                "GET", "/api/stream", headers=self.headers, params=self.params, timeout=timeout
            ) as r:
                self.status = r.status_code
                self._opened.set()
                if r.status_code != 200:
                    return
                fields: dict[str, str] = {}
                data: list[str] = []
                async for line in r.aiter_lines():
                    if line == "":
                        if data or fields:
                            raw = "\n".join(data)
                            with contextlib.suppress(ValueError):
                                raw = json.loads(raw)
                            await self.events.put(Event(fields.get("id"), fields.get("event", "message"), raw))
                        fields, data = {}, []
                    elif line.startswith(":"):
                        continue
                    else:
                        name, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if name == "data":
                            data.append(value)
                        else:
                            fields[name] = value
        finally:
            self._opened.set()

    async def ended(self, timeout: float) -> bool:
        """True once the server has ended the stream; fails after ``timeout`` seconds."""
        assert self._task is not None
        await asyncio.wait_for(asyncio.shield(self._task), timeout)
        return True

    async def next(self, match: Callable[[Event], bool], what: str, timeout: float = 10.0) -> tuple[Event, list[Event]]:
        """The first event satisfying ``match`` and the events that came before it."""
        skipped: list[Event] = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no {what} on the stream within {timeout}s; saw {[(e.event, e.id) for e in skipped]}"
                )
            try:
                event = await asyncio.wait_for(self.events.get(), timeout=remaining)
            except TimeoutError:
                continue
            if match(event):
                return event, skipped
            skipped.append(event)


def _has_content(value: Any, content: str) -> bool:
    if isinstance(value, dict):
        return value.get("content") == content or any(_has_content(v, content) for v in value.values())
    return False


def message_event(room_id: int, content: str) -> Callable[[Event], bool]:
    """Matches the ``message.created`` event of ``content`` in ``room_id`` (the message may be nested)."""

    def check(event: Event) -> bool:
        data = event.data if isinstance(event.data, dict) else {}
        return event.event == "message.created" and data.get("room_id") == room_id and _has_content(data, content)

    return check
