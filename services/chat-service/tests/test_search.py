"""CONTRACT §8: search in one room and across the caller's rooms — any substring in any script, case-
insensitive, newest first, cursor-paginated; never a deleted message or a room the caller left."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from bson import ObjectId

from app.core.state import State
from app.database.search_backfill import backfill
from app.models.message import Message
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import befriend, dm, new_user, send


async def search(
    client: httpx.AsyncClient, keys: Keys, user: int, q: str, room: int | None = None, **params: Any
) -> Any:
    url = f"/rooms/{room}/messages/search" if room is not None else "/messages/search"
    response = await client.get(url, params={"q": q, **params}, headers=keys.headers(user))
    assert response.status_code == 200, response.text
    return response.json()


def contents(page: Any) -> list[str]:
    return [hit["message"]["content"] for hit in page["items"]]


async def pair(state: State, client: httpx.AsyncClient, keys: Keys) -> tuple[int, int, int]:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    return a, b, await dm(client, keys, a, b)


async def test_any_substring_in_any_script(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b, room = await pair(state, client, keys)
    for text in ("안녕하세요 여러분", "Hello!", "STRASSE und Straße", "café au lait", "ab ba", "ﬁne print"):
        await send(client, keys, a, room, text)
    assert contents(await search(client, keys, b, "안녕", room)) == ["안녕하세요 여러분"]
    assert contents(await search(client, keys, b, "ell", room)) == ["Hello!"]
    assert contents(await search(client, keys, b, "hELLo", room)) == ["Hello!"]
    assert contents(await search(client, keys, b, "straße", room)) == ["STRASSE und Straße"]
    assert contents(await search(client, keys, b, "e\u0301", room)) == ["café au lait"]  # one character once composed
    assert contents(await search(client, keys, b, "fine", room)) == ["ﬁne print"]
    assert contents(await search(client, keys, b, "aba", room)) == []  # both 2-grams, but apart
    assert contents(await search(client, keys, b, "세요 여", room)) == ["안녕하세요 여러분"]
    assert contents(await search(client, keys, b, "\x00\x00", room)) == []
    assert contents(await search(client, keys, b, "\u0301\u0301", room)) == []
    hit = (await search(client, keys, b, "lait", room))["items"][0]
    assert hit["room_id"] == room and hit["message"]["sender_id"] == a and hit["message"]["seq"] == 4


async def test_edits_are_searchable_at_once_and_deletions_never(
    state: State, client: httpx.AsyncClient, keys: Keys
) -> None:
    a, b, room = await pair(state, client, keys)
    message = await send(client, keys, a, room, "before the edit")
    gone = await send(client, keys, a, room, "the edit is coming")
    url = f"/rooms/{room}/messages/{message['id']}"
    assert (await client.patch(url, json={"content": "after rewording"}, headers=keys.headers(a))).status_code == 200
    assert contents(await search(client, keys, b, "before", room)) == []
    assert contents(await search(client, keys, b, "rewording", room)) == ["after rewording"]
    assert (await client.delete(f"/rooms/{room}/messages/{gone['id']}", headers=keys.headers(a))).status_code == 204
    assert contents(await search(client, keys, b, "edit", room)) == []
    assert contents(await search(client, keys, b, "edit")) == []


async def test_newest_first_in_pages_across_rooms(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b, c = new_user(), new_user(), new_user()
    await befriend(state, a, b, c)
    first, second = await dm(client, keys, a, b), await dm(client, keys, a, c)
    sent = []
    for i in range(23):
        room = first if i % 2 else second
        sent.append((room, (await send(client, keys, a, room, f"needle {i}"))["content"]))
        await send(client, keys, a, room, "hay")
    seen: list[tuple[int, str]] = []
    cursor = None
    for _ in range(5):
        page = await search(client, keys, a, "NEEDLE", limit=10, **({"cursor": cursor} if cursor else {}))
        seen += [(hit["room_id"], hit["message"]["content"]) for hit in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(sent))
    in_one = await search(client, keys, a, "needle", first, limit=100)
    assert contents(in_one) == [text for room, text in reversed(sent) if room == first]
    assert in_one["next_cursor"] is None
    # b sees the room it shares with a, never c's.
    assert {hit["room_id"] for hit in (await search(client, keys, b, "needle", limit=100))["items"]} == {first}


async def test_a_room_left_is_never_searched(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    created = await client.post(
        "/rooms", json={"type": "group", "name": "g", "member_ids": [b]}, headers=keys.headers(a)
    )
    room = created.json()["id"]
    await send(client, keys, a, room, "secret plans")
    assert contents(await search(client, keys, b, "plans")) == ["secret plans"]
    assert (await client.delete(f"/rooms/{room}/members/me", headers=keys.headers(b))).status_code == 204
    assert contents(await search(client, keys, b, "plans")) == []
    forbidden = await client.get(f"/rooms/{room}/messages/search", params={"q": "plans"}, headers=keys.headers(b))
    assert forbidden.status_code == 403


@pytest.mark.parametrize(
    "params",
    [
        {"q": "a"},
        {"q": "x" * 101},
        {},
        {"q": "ok", "limit": 0},
        {"q": "ok", "limit": 101},
        {"q": "ok", "cursor": "1_2"},
        {"q": "ok", "cursor": "1_2_281474976710656"},
        {"q": "ok", "cursor": "99999999999999999999_1_1"},
    ],
)
async def test_bad_queries_are_422(state: State, client: httpx.AsyncClient, keys: Keys, params: dict[str, Any]) -> None:
    a, _, room = await pair(state, client, keys)
    for url in (f"/rooms/{room}/messages/search", "/messages/search"):
        response = await client.get(url, params=params, headers=keys.headers(a))
        assert response.status_code == 422, (url, params, response.text)


async def test_search_needs_a_token_and_a_room(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    assert (await client.get("/messages/search", params={"q": "hi"})).status_code == 401
    a = new_user()
    assert (
        await client.get("/rooms/999999999/messages/search", params={"q": "hi"}, headers=keys.headers(a))
    ).status_code == 404
    assert await search(client, keys, a, "hi") == {"items": [], "next_cursor": None}


async def test_the_backfill_makes_older_messages_searchable(
    state: State, client: httpx.AsyncClient, keys: Keys
) -> None:
    a, b, room = await pair(state, client, keys)
    older = await send(client, keys, a, room, "Written before search existed")
    # A message as stored before messages carried their 2-grams.
    await Message.get_motor_collection().update_one({"_id": ObjectId(older["id"])}, {"$unset": {"grams": ""}})
    assert contents(await search(client, keys, b, "before search", room)) == []
    assert await backfill(batch=2) >= 1
    assert contents(await search(client, keys, b, "before search", room)) == ["Written before search existed"]
    assert await backfill() == 0
    page = (await client.get(f"/rooms/{room}/messages", headers=keys.headers(b))).json()["items"]
    assert page[0]["version"] == older["version"]
