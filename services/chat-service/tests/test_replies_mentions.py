"""CONTRACT §8: replies (the quoted excerpt follows the quoted message's edits and deletion) and mentions
(``@username`` of members, resolved on send and edit; ``mention_count`` in ``GET /rooms``)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.core.state import State
from app.kafka import consumers
from chat_shared.consumer import ProcessedEvent
from chat_shared.db import commit
from chat_shared.events import EventEnvelope
from chat_shared.events.user import UserProfileUpdated, UserRegistered
from chat_shared.testing.sse import open_stream
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import UvicornServer, befriend, dm, new_user, now, send


async def register(state: State, user_id: int, username: str) -> None:
    """Put a user in the name replica through the user.events consumer's handler."""
    event = UserRegistered(user_id=user_id, username=username, display_name=username.title(), created_at=now())
    envelope = EventEnvelope.of(event, "user-service")
    async with state.sessionmaker() as session:
        await consumers.USER_HANDLERS[UserRegistered](session, event, envelope)
        session.add(ProcessedEvent(consumer=consumers.USERS_GROUP, event_id=str(envelope.event_id)))
        await commit(session)


async def group(state: State, client: httpx.AsyncClient, keys: Keys, owner: int, *others: int) -> int:
    await befriend(state, owner, *others)
    response = await client.post(
        "/rooms", json={"type": "group", "name": "g", "member_ids": list(others)}, headers=keys.headers(owner)
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def history(client: httpx.AsyncClient, keys: Keys, user: int, room: int) -> dict[int, dict]:
    response = await client.get(f"/rooms/{room}/messages", headers=keys.headers(user))
    assert response.status_code == 200, response.text
    return {m["seq"]: m for m in response.json()["items"]}


async def test_a_reply_quotes_the_first_100_characters(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    quoted = await send(client, keys, a, room, "가" * 50 + "x" * 80)
    reply = await send(client, keys, b, room, "answer", reply_to=quoted["id"])
    assert reply["reply_to"] == {"id": quoted["id"], "seq": 1, "sender_id": a, "excerpt": "가" * 50 + "x" * 50}
    assert quoted["reply_to"] is None and quoted["mentions"] == []
    assert (await history(client, keys, a, room))[2]["reply_to"] == reply["reply_to"]


async def test_the_excerpt_follows_an_edit_and_a_deletion(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    quoted = await send(client, keys, a, room, "first words")
    reply = await send(client, keys, b, room, "answer", reply_to=quoted["id"])
    edited = await client.patch(
        f"/rooms/{room}/messages/{quoted['id']}", json={"content": "new words"}, headers=keys.headers(a)
    )
    assert edited.status_code == 200
    after_edit = (await history(client, keys, b, room))[2]
    assert after_edit["reply_to"]["excerpt"] == "new words" and after_edit["version"] > reply["version"]
    deleted = await client.delete(f"/rooms/{room}/messages/{quoted['id']}", headers=keys.headers(a))
    assert deleted.status_code == 204
    after_delete = (await history(client, keys, b, room))[2]
    assert after_delete["reply_to"] == {"id": quoted["id"], "seq": 1, "sender_id": a, "excerpt": None}
    assert after_delete["content"] == "answer" and after_delete["version"] > after_edit["version"]


async def test_racing_edits_leave_the_newest_excerpt(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    quoted = await send(client, keys, a, room, "v0")
    replies = await asyncio.gather(*(send(client, keys, b, room, f"r{i}", reply_to=quoted["id"]) for i in range(5)))
    url = f"/rooms/{room}/messages/{quoted['id']}"
    await asyncio.gather(*(client.patch(url, json={"content": f"v{i}"}, headers=keys.headers(a)) for i in range(1, 6)))
    final = (await client.get(f"/rooms/{room}/messages", headers=keys.headers(a))).json()["items"][0]["content"]
    seen = await history(client, keys, b, room)
    assert {seen[r["seq"]]["reply_to"]["excerpt"] for r in replies} == {final}


async def test_a_deleted_reply_shows_no_quote(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    quoted = await send(client, keys, a, room, "hello")
    reply = await send(client, keys, b, room, "hi", reply_to=quoted["id"])
    assert (await client.delete(f"/rooms/{room}/messages/{reply['id']}", headers=keys.headers(b))).status_code == 204
    gone = (await history(client, keys, a, room))[2]
    assert gone["reply_to"] is None and gone["mentions"] == [] and gone["content"] is None


@pytest.mark.parametrize("target", ["other_room", "unknown", "not_an_id", "deleted"])
async def test_reply_to_outside_the_room_is_422(
    state: State, client: httpx.AsyncClient, keys: Keys, target: str
) -> None:
    a, b, c = new_user(), new_user(), new_user()
    await befriend(state, a, b, c)
    room, other = await dm(client, keys, a, b), await dm(client, keys, a, c)
    elsewhere = await send(client, keys, a, other, "elsewhere")
    gone = await send(client, keys, a, room, "gone")
    await client.delete(f"/rooms/{room}/messages/{gone['id']}", headers=keys.headers(a))
    reply_to = {
        "other_room": elsewhere["id"],
        "unknown": "0123456789abcdef01234567",
        "not_an_id": "nope",
        "deleted": gone["id"],
    }[target]
    response = await client.post(
        f"/rooms/{room}/messages", json={"content": "re", "reply_to": reply_to}, headers=keys.headers(a)
    )
    assert response.status_code == 422, response.text
    assert (await history(client, keys, a, room)).keys() == {1}


async def test_mentions_name_members_only(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b, c, outsider = new_user(), new_user(), new_user(), new_user()
    for user, name in ((a, f"ann{a}"), (b, f"Bob_{b}"), (c, f"cy{c}"), (outsider, f"out{outsider}")):
        await register(state, user, name)
    room = await group(state, client, keys, a, b, c)
    text = f"hi @bob_{b} and @CY{c}, @out{outsider}, @nobody{a}, mail x@bob_{b} @bob_{b} @ann{a}"
    message = await send(client, keys, a, room, text)
    assert message["mentions"] == [b, c, a] and message["content"] == text
    edited = await client.patch(
        f"/rooms/{room}/messages/{message['id']}", json={"content": f"only @cy{c}"}, headers=keys.headers(a)
    )
    assert edited.status_code == 200 and edited.json()["mentions"] == [c]


async def test_a_renamed_user_is_mentioned_by_the_new_name(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b = new_user(), new_user()
    await register(state, a, f"a{a}")
    await register(state, b, f"old{b}")
    room = await group(state, client, keys, a, b)
    renamed = UserProfileUpdated(user_id=b, username=f"new{b}", display_name="B", updated_at=now())
    async with state.sessionmaker() as session:
        await consumers.USER_HANDLERS[UserProfileUpdated](session, renamed, EventEnvelope.of(renamed, "user-service"))
        await commit(session)
    message = await send(client, keys, a, room, f"@old{b} @new{b}")
    assert message["mentions"] == [b]


async def test_mention_count_counts_unread_mentions(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b, c = new_user(), new_user(), new_user()
    for user in (a, b, c):
        await register(state, user, f"u{user}")
    room = await group(state, client, keys, a, b, c)

    async def counts(user: int) -> tuple[int, int]:
        items = (await client.get("/rooms", headers=keys.headers(user))).json()["items"]
        mine = next(r for r in items if r["id"] == room)
        single = (await client.get(f"/rooms/{room}", headers=keys.headers(user))).json()
        assert single["mention_count"] == mine["mention_count"]
        return mine["unread_count"], mine["mention_count"]

    await send(client, keys, a, room, f"hey @u{b}")
    await send(client, keys, a, room, "no mention")
    third = await send(client, keys, c, room, f"@u{b} @u{c} look")
    deleted = await send(client, keys, a, room, f"@u{b} oops")
    await client.delete(f"/rooms/{room}/messages/{deleted['id']}", headers=keys.headers(a))
    assert await counts(b) == (3, 2)
    assert await counts(c) == (2, 0)  # its own message (and its mention in it) is not unread
    read = await client.post(f"/rooms/{room}/read", json={"seq": third["seq"] - 1}, headers=keys.headers(b))
    assert read.status_code == 200
    assert await counts(b) == (1, 1)


async def test_the_stream_carries_the_reply_and_the_mentions(
    state: State, client: httpx.AsyncClient, server: UvicornServer, keys: Keys
) -> None:
    a, b = new_user(), new_user()
    await register(state, b, f"s{b}")
    room = await group(state, client, keys, a, b)
    quoted = await send(client, keys, a, room, "question")
    async with open_stream(server.url, headers=keys.headers(b)) as sse:
        reply = await send(client, keys, a, room, f"@s{b} see", reply_to=quoted["id"])
        frame = await sse.next()
        while frame.event != "message.created" or frame.data["message"]["id"] != reply["id"]:
            frame = await sse.next()
    assert frame.data["message"]["mentions"] == [b]
    assert frame.data["message"]["reply_to"] == {"id": quoted["id"], "seq": 1, "sender_id": a, "excerpt": "question"}
