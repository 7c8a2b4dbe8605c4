"""Helpers of the e2e suite: users, friendships, rooms and messages through the public API."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from chat_shared.testing.sse import Event
from chat_shared.testing.waiting import eventually

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

    async def direct_room(self, a: User, b: User) -> dict[str, Any]:
        """The direct room of two friends, once chat-service has the friendship (friend.events)."""

        async def create() -> dict[str, Any] | None:
            r = await self.client.post("/api/rooms", json={"type": "direct", "member_ids": [b.id]}, headers=a.auth)
            if r.status_code == 403:
                return None
            assert r.status_code in (200, 201), r.text
            body: dict[str, Any] = r.json()
            return body

        return await eventually(create, "chat-service to learn the friendship")

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
