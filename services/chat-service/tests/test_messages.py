"""CONTRACT §5: messages — send (201/200 idempotent), validation, history paging, edit, soft delete,
reactions, and a block that stops a DM without hiding its history."""

from __future__ import annotations

import httpx
import pytest

from app.core.state import State
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import befriend, block, dm, new_user, send


async def _pair_room(state: State, client: httpx.AsyncClient, keys: Keys) -> tuple[int, int, int]:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    return a, b, await dm(client, keys, a, b)


async def test_send_returns_the_message_and_is_idempotent(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, _, room = await _pair_room(state, client, keys)
    first = await client.post(
        f"/rooms/{room}/messages", json={"content": "  hello  ", "client_msg_id": "c-1"}, headers=keys.headers(a)
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert set(body) == {
        "id",
        "room_id",
        "seq",
        "sender_id",
        "content",
        "message_type",
        "client_msg_id",
        "created_at",
        "edited_at",
        "deleted",
        "reactions",
        "reply_to",
        "mentions",
        "version",
        "attachment",
    }
    assert body["content"] == "hello" and body["seq"] == 1 and body["sender_id"] == a and body["room_id"] == room
    assert body["message_type"] == "text" and body["deleted"] is False and body["reactions"] == {}
    assert body["version"] == 1
    assert body["created_at"].endswith("Z") and isinstance(body["id"], str)
    retry = await client.post(
        f"/rooms/{room}/messages", json={"content": "hello", "client_msg_id": "c-1"}, headers=keys.headers(a)
    )
    assert retry.status_code == 200 and retry.json() == body
    second = await send(client, keys, a, room, "next")
    assert second["seq"] == 2 and second["client_msg_id"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"content": ""},
        {"content": "   \n\t "},
        {"content": "x" * 4001},
        {"content": "hi", "sender_id": 7},
        {"content": "hi", "seq": 3},
        {"content": "hi", "message_type": "image"},
        {},
    ],
)
async def test_invalid_message_bodies_are_422(
    state: State, client: httpx.AsyncClient, keys: Keys, body: dict[str, object]
) -> None:
    a, _, room = await _pair_room(state, client, keys)
    response = await client.post(f"/rooms/{room}/messages", json=body, headers=keys.headers(a))
    assert response.status_code == 422, response.text


async def test_4000_characters_after_trimming_are_accepted(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, _, room = await _pair_room(state, client, keys)
    response = await client.post(
        f"/rooms/{room}/messages", json={"content": " " + "é" * 4000 + " "}, headers=keys.headers(a)
    )
    assert response.status_code == 201 and len(response.json()["content"]) == 4000


async def test_history_pages_by_seq(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b, room = await _pair_room(state, client, keys)
    for i in range(1, 8):
        await send(client, keys, a if i % 2 else b, room, f"m{i}")
    latest = (await client.get(f"/rooms/{room}/messages", params={"limit": 3}, headers=keys.headers(a))).json()
    assert [m["seq"] for m in latest["items"]] == [5, 6, 7] and latest["next_cursor"] == 5
    older = (
        await client.get(f"/rooms/{room}/messages", params={"limit": 3, "before": 5}, headers=keys.headers(a))
    ).json()
    assert [m["seq"] for m in older["items"]] == [2, 3, 4] and older["next_cursor"] == 2
    oldest = (
        await client.get(f"/rooms/{room}/messages", params={"limit": 3, "before": 2}, headers=keys.headers(a))
    ).json()
    assert [m["seq"] for m in oldest["items"]] == [1] and oldest["next_cursor"] is None
    forward = (
        await client.get(f"/rooms/{room}/messages", params={"after": 2, "limit": 3}, headers=keys.headers(b))
    ).json()
    assert [m["seq"] for m in forward["items"]] == [3, 4, 5] and forward["next_cursor"] == 5
    both = await client.get(f"/rooms/{room}/messages", params={"after": 1, "before": 3}, headers=keys.headers(a))
    assert both.status_code == 422


async def test_edit_delete_are_sender_only(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b, room = await _pair_room(state, client, keys)
    msg = await send(client, keys, a, room, "original")
    url = f"/rooms/{room}/messages/{msg['id']}"
    assert (await client.patch(url, json={"content": "hacked"}, headers=keys.headers(b))).status_code == 403
    assert (await client.delete(url, headers=keys.headers(b))).status_code == 403
    edited = await client.patch(url, json={"content": " changed "}, headers=keys.headers(a))
    assert edited.status_code == 200
    assert edited.json()["content"] == "changed" and edited.json()["edited_at"] is not None
    assert (await client.patch(url, json={"content": " "}, headers=keys.headers(a))).status_code == 422
    assert (await client.delete(url, headers=keys.headers(a))).status_code == 204
    assert (await client.delete(url, headers=keys.headers(a))).status_code == 204
    page = (await client.get(f"/rooms/{room}/messages", headers=keys.headers(b))).json()
    assert page["items"][0]["deleted"] is True and page["items"][0]["content"] is None
    assert (await client.patch(url, json={"content": "again"}, headers=keys.headers(a))).status_code == 409
    missing = await client.patch(
        f"/rooms/{room}/messages/000000000000000000000000", json={"content": "x"}, headers=keys.headers(a)
    )
    assert missing.status_code == 404
    garbage = await client.patch(f"/rooms/{room}/messages/not-an-id", json={"content": "x"}, headers=keys.headers(a))
    assert garbage.status_code == 404


async def test_reactions_are_idempotent(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b, room = await _pair_room(state, client, keys)
    msg = await send(client, keys, a, room, "react to me")
    url = f"/rooms/{room}/messages/{msg['id']}/reactions"
    for _ in range(2):
        put = await client.put(f"{url}/👍", headers=keys.headers(b))
        assert put.status_code == 200 and put.json()["reactions"] == {"👍": [b]}
    both = await client.put(f"{url}/👍", headers=keys.headers(a))
    assert both.json()["reactions"] == {"👍": [b, a]}
    heart = await client.put(f"{url}/❤️", headers=keys.headers(a))
    assert heart.json()["reactions"] == {"👍": [b, a], "❤️": [a]}
    for _ in range(2):
        removed = await client.delete(f"{url}/👍", headers=keys.headers(b))
        assert removed.status_code == 200 and removed.json()["reactions"] == {"👍": [a], "❤️": [a]}
    assert (await client.put(f"{url}/{'x' * 33}", headers=keys.headers(a))).status_code == 422
    assert (await client.put(f"{url}/a%20b", headers=keys.headers(a))).status_code == 422


async def test_block_stops_new_messages_but_history_stays(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b, room = await _pair_room(state, client, keys)
    await send(client, keys, a, room, "before the block")
    await block(state, b, a)
    for sender in (a, b):
        refused = await client.post(f"/rooms/{room}/messages", json={"content": "hi"}, headers=keys.headers(sender))
        assert refused.status_code == 403
    history = await client.get(f"/rooms/{room}/messages", headers=keys.headers(a))
    assert history.status_code == 200 and [m["content"] for m in history.json()["items"]] == ["before the block"]
    assert (await client.get(f"/rooms/{room}", headers=keys.headers(a))).status_code == 200
    for opener, other in ((a, b), (b, a)):
        reopened = await client.post(
            "/rooms", json={"type": "direct", "member_ids": [other]}, headers=keys.headers(opener)
        )
        assert reopened.status_code == 403  # never across a block, even for the existing room


async def test_an_orphan_of_a_failed_commit_is_invisible_and_its_seq_reused(
    state: State, client: httpx.AsyncClient, keys: Keys
) -> None:
    from datetime import UTC, datetime

    from bson import ObjectId

    from app.models.message import Message

    a, b, room = await _pair_room(state, client, keys)
    await send(client, keys, a, room, "committed")
    # What a send leaves behind when its MySQL commit fails after the Mongo insert.
    oid = ObjectId()
    await Message(
        id=oid,
        room_id=room,
        seq=2,
        sender_id=a,
        content="orphan",
        client_msg_id="lost",
        dedupe_key="lost",
        created_at=datetime.now(UTC),
    ).insert()
    page = (await client.get(f"/rooms/{room}/messages", headers=keys.headers(b))).json()
    assert [m["content"] for m in page["items"]] == ["committed"]
    assert (await client.get(f"/rooms/{room}/messages/{oid}", headers=keys.headers(a))).status_code == 405
    assert (
        await client.patch(f"/rooms/{room}/messages/{oid}", json={"content": "x"}, headers=keys.headers(a))
    ).status_code == 404
    retried = await client.post(
        f"/rooms/{room}/messages", json={"content": "retried", "client_msg_id": "lost"}, headers=keys.headers(a)
    )
    assert retried.status_code == 201 and retried.json()["seq"] == 2 and retried.json()["id"] != str(oid)
    nxt = await send(client, keys, b, room, "next")
    assert nxt["seq"] == 3
    page = (await client.get(f"/rooms/{room}/messages", headers=keys.headers(b))).json()
    assert [m["content"] for m in page["items"]] == ["committed", "retried", "next"]


async def test_a_send_writes_the_room_row_once(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    """The seq increment is the only UPDATE of `rooms`: it runs under the room's row lock, which every
    other sender of the room waits for, so nothing is written twice while it is held."""
    from sqlalchemy import event

    a, _, room = await _pair_room(state, client, keys)
    statements: list[str] = []

    def capture(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(" ".join(statement.split()).lower())

    engine = state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        sent = await send(client, keys, a, room, "once", client_msg_id="w-1")
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert sent["seq"] == 1
    assert [s for s in statements if s.startswith("update rooms")] == [
        "update rooms set last_seq=(rooms.last_seq + %s), last_activity_at=%s where rooms.id = %s"
    ]
