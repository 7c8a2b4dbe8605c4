"""CONTRACT §5: rooms — direct (one per pair, friends only, never across a block), groups, list, invite,
leave, and 401/403/404 on every room route."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.state import State
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import befriend, block, dm, new_user, send


async def test_direct_room_is_created_once_per_pair(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    first = await client.post("/rooms", json={"type": "direct", "member_ids": [b]}, headers=keys.headers(a))
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["type"] == "direct" and body["member_ids"] == sorted([a, b]) and body["name"] is None
    assert body["last_message"] is None and body["unread_count"] == 0 and body["last_read_seq"] == 0
    again = await client.post("/rooms", json={"type": "direct", "member_ids": [a]}, headers=keys.headers(b))
    assert again.status_code == 200 and again.json()["id"] == body["id"]


async def test_direct_room_needs_friendship_and_no_block(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b, c = new_user(), new_user(), new_user()
    stranger = await client.post("/rooms", json={"type": "direct", "member_ids": [b]}, headers=keys.headers(a))
    assert stranger.status_code == 403
    await befriend(state, a, c)
    await block(state, c, a)  # a block ends the friendship and forbids the room
    blocked = await client.post("/rooms", json={"type": "direct", "member_ids": [c]}, headers=keys.headers(a))
    assert blocked.status_code == 403
    self_room = await client.post("/rooms", json={"type": "direct", "member_ids": [a]}, headers=keys.headers(a))
    assert self_room.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"type": "direct", "member_ids": []},
        {"type": "direct", "member_ids": [1, 2]},
        {"type": "group", "member_ids": [1]},
        {"type": "group", "name": "  ", "member_ids": [1]},
        {"type": "channel", "member_ids": [1]},
        {"type": "group", "name": "x", "member_ids": [1], "id": 5},
    ],
)
async def test_malformed_room_bodies_are_422(client: httpx.AsyncClient, keys: Keys, body: dict[str, Any]) -> None:
    response = await client.post("/rooms", json=body, headers=keys.headers(new_user()))
    assert response.status_code == 422, response.text


async def test_group_members_must_be_friends_and_at_most_100(
    state: State, client: httpx.AsyncClient, keys: Keys
) -> None:
    owner, f1, f2, stranger = new_user(), new_user(), new_user(), new_user()
    await befriend(state, owner, f1, f2)
    created = await client.post(
        "/rooms", json={"type": "group", "name": "Team", "member_ids": [f1, f2, owner]}, headers=keys.headers(owner)
    )
    assert created.status_code == 201, created.text
    assert created.json()["member_ids"] == sorted([owner, f1, f2]) and created.json()["name"] == "Team"
    refused = await client.post(
        "/rooms", json={"type": "group", "name": "T", "member_ids": [f1, stranger]}, headers=keys.headers(owner)
    )
    assert refused.status_code == 403
    many = [new_user() for _ in range(100)]
    await befriend(state, owner, *many)
    too_big = await client.post(
        "/rooms", json={"type": "group", "name": "Big", "member_ids": many}, headers=keys.headers(owner)
    )
    assert too_big.status_code == 400
    full = await client.post(
        "/rooms", json={"type": "group", "name": "Full", "member_ids": many[:99]}, headers=keys.headers(owner)
    )
    assert full.status_code == 201 and len(full.json()["member_ids"]) == 100


async def test_invite_and_leave(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    owner, friend, other, stranger = new_user(), new_user(), new_user(), new_user()
    await befriend(state, owner, friend, other)
    room = (
        await client.post(
            "/rooms", json={"type": "group", "name": "G", "member_ids": [friend]}, headers=keys.headers(owner)
        )
    ).json()["id"]
    # the invitee must be the inviter's friend: friend is not other's friend... but is owner's
    not_friend = await client.post(f"/rooms/{room}/members", json={"user_id": other}, headers=keys.headers(friend))
    assert not_friend.status_code == 403
    added = await client.post(f"/rooms/{room}/members", json={"user_id": other}, headers=keys.headers(owner))
    assert added.status_code == 201 and other in added.json()["member_ids"]
    again = await client.post(f"/rooms/{room}/members", json={"user_id": other}, headers=keys.headers(owner))
    assert again.status_code == 409
    outsider = await client.post(f"/rooms/{room}/members", json={"user_id": stranger}, headers=keys.headers(owner))
    assert outsider.status_code == 403
    left = await client.delete(f"/rooms/{room}/members/me", headers=keys.headers(other))
    assert left.status_code == 204
    assert (await client.get(f"/rooms/{room}", headers=keys.headers(other))).status_code == 403
    direct = await dm(client, keys, owner, friend)
    assert (
        await client.post(f"/rooms/{direct}/members", json={"user_id": other}, headers=keys.headers(owner))
    ).status_code == 400


async def test_rooms_list_by_activity_with_preview_and_unread(
    state: State, client: httpx.AsyncClient, keys: Keys
) -> None:
    me, b, c = new_user(), new_user(), new_user()
    await befriend(state, me, b, c)
    room_b = await dm(client, keys, me, b)
    room_c = await dm(client, keys, me, c)
    await send(client, keys, b, room_b, "hello from b")
    await send(client, keys, b, room_b, "again from b")
    await send(client, keys, c, room_c, "hi from c")
    await send(client, keys, me, room_c, "my own message")
    listed = await client.get("/rooms", headers=keys.headers(me))
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [r["id"] for r in items] == [room_c, room_b]
    assert items[0]["last_message"]["content"] == "my own message" and items[0]["unread_count"] == 1
    assert items[1]["last_message"]["content"] == "again from b" and items[1]["unread_count"] == 2
    page = await client.get("/rooms", params={"limit": 1}, headers=keys.headers(me))
    assert [r["id"] for r in page.json()["items"]] == [room_c]
    rest = await client.get(
        "/rooms", params={"limit": 1, "cursor": page.json()["next_cursor"]}, headers=keys.headers(me)
    )
    assert [r["id"] for r in rest.json()["items"]] == [room_b] and rest.json()["next_cursor"] is None


async def test_read_position_never_moves_backwards(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    for i in range(3):
        await send(client, keys, a, room, f"m{i}")
    read = await client.post(f"/rooms/{room}/read", json={"seq": 2}, headers=keys.headers(b))
    assert read.status_code == 200 and read.json() == {"room_id": room, "last_read_seq": 2, "unread_count": 1}
    back = await client.post(f"/rooms/{room}/read", json={"seq": 1}, headers=keys.headers(b))
    assert back.json()["last_read_seq"] == 2
    capped = await client.post(f"/rooms/{room}/read", json={"seq": 99}, headers=keys.headers(b))
    assert capped.json() == {"room_id": room, "last_read_seq": 3, "unread_count": 0}
    bad = await client.post(f"/rooms/{room}/read", json={"seq": -1}, headers=keys.headers(b))
    assert bad.status_code == 422


ROOM_ROUTES = [
    ("GET", "/rooms/{room}", None),
    ("POST", "/rooms/{room}/members", {"user_id": 1}),
    ("DELETE", "/rooms/{room}/members/me", None),
    ("POST", "/rooms/{room}/read", {"seq": 1}),
    ("POST", "/rooms/{room}/messages", {"content": "hi"}),
    ("GET", "/rooms/{room}/messages", None),
    ("PATCH", "/rooms/{room}/messages/{msg}", {"content": "x"}),
    ("DELETE", "/rooms/{room}/messages/{msg}", None),
    ("PUT", "/rooms/{room}/messages/{msg}/reactions/👍", None),
    ("DELETE", "/rooms/{room}/messages/{msg}/reactions/👍", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROOM_ROUTES)
async def test_every_room_route_refuses_non_members_and_anonymous(
    state: State, client: httpx.AsyncClient, keys: Keys, method: str, path: str, body: Any
) -> None:
    owner, friend, outsider = new_user(), new_user(), new_user()
    await befriend(state, owner, friend)
    room = (
        await client.post(
            "/rooms", json={"type": "group", "name": "G", "member_ids": [friend]}, headers=keys.headers(owner)
        )
    ).json()["id"]
    msg = (await send(client, keys, owner, room, "secret"))["id"]
    url = path.format(room=room, msg=msg)
    forbidden = await client.request(method, url, json=body, headers=keys.headers(outsider))
    assert forbidden.status_code == 403, (url, forbidden.text)
    anonymous = await client.request(method, url, json=body)
    assert anonymous.status_code == 401
    missing = await client.request(method, path.format(room=10**12, msg=msg), json=body, headers=keys.headers(outsider))
    assert missing.status_code == 404
