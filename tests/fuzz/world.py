"""The rows the fuzzer acts on: a signed-in user with friends, requests both ways, a block, a direct and a
group room with messages and reactions, built through the services' own routes.

:func:`build` returns the caller's token and, per service, the real values each parameter name may take
(``{"room_id": [7, 8], "message_id": ["…"], …}``); tests/fuzz/hooks.py swaps them into generated requests,
so the fuzzer reaches real rows and not only 404s.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from stack import Stack

PASSWORD = "fuzz the edges 2026"
TIMEOUT_S = 30.0


@dataclass
class World:
    """The caller's access token and, per service, real values by parameter name."""

    token: str
    values: dict[str, dict[str, list[Any]]] = field(default_factory=dict)


def _until(probe: Callable[[], httpx.Response], ok: set[int], what: str) -> httpx.Response:
    """``probe()`` until it answers one of ``ok`` (a replica that has not caught up answers 403/404)."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        response = probe()
        if response.status_code in ok:
            return response
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: {response.status_code} {response.text}")
        time.sleep(0.1)


class Client:
    """One signed-in user on the three services."""

    def __init__(self, stack: Stack, prefix: str) -> None:
        self.stack = stack
        self.http = httpx.Client(timeout=15.0, trust_env=False)
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        users = stack.url("user-service")
        body = {"email": f"{name}@example.com", "username": name, "password": PASSWORD}
        registered = self.http.post(f"{users}/auth/register", json=body)
        assert registered.status_code == 201, registered.text
        self.id: int = registered.json()["id"]
        login = self.http.post(f"{users}/auth/login/json", json={"email": body["email"], "password": PASSWORD})
        assert login.status_code == 200, login.text
        self.token: str = login.json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    def call(self, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, self.stack.url(service) + path, **kwargs)

    def ask(self, other: Client) -> int:
        """A friend request to ``other`` (friend-service may first have to learn of them)."""
        response = _until(
            lambda: self.call("friend-service", "POST", "/friends/requests", json={"user_id": other.id}),
            {201},
            "friend request",
        )
        request_id: int = response.json()["id"]
        return request_id

    def befriend(self, other: Client) -> None:
        request_id = self.ask(other)
        accepted = other.call("friend-service", "POST", f"/friends/requests/{request_id}/accept")
        assert accepted.status_code == 200, accepted.text

    def send(self, room_id: int, content: str) -> dict[str, Any]:
        response = self.call("chat-service", "POST", f"/rooms/{room_id}/messages", json={"content": content})
        assert response.status_code == 201, response.text
        message: dict[str, Any] = response.json()
        return message


def build(stack: Stack) -> World:
    """Register the cast, connect them and fill two rooms; every step waits for the replicas it needs."""
    me, ann, bob, cat, dan, eve = (Client(stack, p) for p in ("me", "ann", "bob", "cat", "dan", "eve"))
    me.befriend(ann)
    bob.befriend(me)
    outgoing = me.ask(cat)
    incoming = dan.ask(me)
    blocked = me.call("friend-service", "POST", "/blocks", json={"user_id": eve.id})
    assert blocked.status_code == 201, blocked.text

    # chat-service learns friendships from friend-service's events: wait until it lets the pair talk.
    direct = _until(
        lambda: me.call("chat-service", "POST", "/rooms", json={"type": "direct", "member_ids": [ann.id]}),
        {200, 201},
        "direct room",
    ).json()
    group = _until(
        lambda: me.call(
            "chat-service", "POST", "/rooms", json={"type": "group", "name": "fuzz", "member_ids": [ann.id, bob.id]}
        ),
        {201},
        "group room",
    ).json()
    messages = [me.send(room["id"], f"hello {n}") for room in (direct, group) for n in range(3)]
    messages.append(ann.send(direct["id"], "a message that is not mine"))
    for message in messages[:2]:
        reacted = me.call("chat-service", "PUT", f"/rooms/{message['room_id']}/messages/{message['id']}/reactions/👍")
        assert reacted.status_code == 200, reacted.text

    subscribed = me.call(
        "notification-service",
        "POST",
        "/notifications/subscriptions",
        json={"type": "fcm", "token": "fuzz-token-" + "x" * 40},
    )
    assert subscribed.status_code == 201, subscribed.text

    people = [me.id, ann.id, bob.id, cat.id, dan.id, eve.id]
    return World(
        token=me.token,
        values={
            "user-service": {"user_id": people},
            "friend-service": {
                "user_id": [ann.id, bob.id, cat.id, dan.id, eve.id],
                "request_id": [outgoing, incoming],
            },
            "chat-service": {
                "room_id": [direct["id"], group["id"]],
                "message_id": [m["id"] for m in messages],
                "message_room": [[m["id"], m["room_id"]] for m in messages],
                "user_id": [ann.id, bob.id, cat.id],
                "emoji": ["👍", "🎉"],
            },
            "notification-service": {"subscription_id": [subscribed.json()["id"]]},
        },
    )
