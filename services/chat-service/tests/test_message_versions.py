"""CONTRACT §8: every message carries ``version`` (1 on send, +1 per change) and so does each of its events;
the fan-out delivers a message's snapshots in increasing version, whatever order they were published in."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from app.core.state import State
from app.kafka.consumers import FanOut
from app.stream.log import UserLog
from chat_shared.events import EventEnvelope
from chat_shared.events.chat import MessageEvent, MessageSnapshot, ReactionsChanged
from chat_shared.testing.sse import open_stream
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import UvicornServer, befriend, dm, new_user, send


async def test_each_change_takes_the_next_version(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    msg = await send(client, keys, a, room, "v1")
    url = f"/rooms/{room}/messages/{msg['id']}"
    steps = [
        ("PATCH", url, {"content": "v2"}, 2),
        ("PATCH", url, {"content": "v2"}, 2),  # the same content again changes nothing
        ("PUT", f"{url}/reactions/👍", None, 3),
        ("PUT", f"{url}/reactions/👍", None, 3),
        ("DELETE", f"{url}/reactions/👍", None, 4),
        ("DELETE", f"{url}/reactions/👍", None, 4),
    ]
    assert msg["version"] == 1
    for method, path, body, version in steps:
        response = await client.request(method, path, json=body, headers=keys.headers(b if "react" in path else a))
        assert response.status_code == 200 and response.json()["version"] == version, (method, path, response.text)
    for _ in range(2):
        assert (await client.delete(url, headers=keys.headers(a))).status_code == 204
    (shown,) = (await client.get(f"/rooms/{room}/messages", headers=keys.headers(b))).json()["items"]
    assert shown["deleted"] is True and shown["version"] == 5


def _snapshot(message_id: str, room_id: int, version: int) -> MessageSnapshot:
    return MessageSnapshot(
        id=message_id,
        room_id=room_id,
        seq=1,
        sender_id=1,
        content="x",
        message_type="text",
        client_msg_id=None,
        created_at=datetime.now(UTC),
        edited_at=None,
        deleted=False,
        reactions={"👍": list(range(version))},
        version=version,
    )


async def test_the_fan_out_drops_a_snapshot_older_than_one_it_delivered(
    state: State, client: httpx.AsyncClient, keys: Keys
) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    message_id = uuid.uuid4().hex[:24]
    fanout = FanOut(UserLog(state.redis))
    handlers = fanout.handlers()

    def change(version: int) -> tuple[MessageEvent, EventEnvelope]:
        event = ReactionsChanged.of(_snapshot(message_id, room, version))
        return event, EventEnvelope.of(event, "chat-service")

    async def run(batch: list[tuple[MessageEvent, EventEnvelope]]) -> None:
        """The calls the fan-out consumer makes for one batch."""
        async with state.sessionmaker() as session:
            await fanout.before(session, [event for event, _ in batch])
            for event, envelope in batch:
                await handlers[type(event)](session, event, envelope)
            await fanout.after(session)

    async def delivered() -> list[int]:
        entries = await UserLog(state.redis).after(b, "0-0", 100)
        messages = [json.loads(fields["d"]).get("message", {}) for _, fields in entries]
        return [m["version"] for m in messages if m.get("id") == message_id]

    three = change(3)
    await run([three, change(2)])  # published out of order within a batch
    await run([change(2)])  # and across batches
    await run([three])  # a redelivery of the delivered event
    await run([change(3)])  # the same version again under another event id: an idempotent retry
    await run([change(4), change(5)])
    assert await delivered() == [3, 4, 5]


async def test_concurrent_changes_end_the_stream_on_the_final_state(
    state: State, client: httpx.AsyncClient, server: UvicornServer, keys: Keys
) -> None:
    sender, *others = (new_user() for _ in range(6))
    await befriend(state, sender, *others)
    created = await client.post(
        "/rooms", json={"type": "group", "name": "busy", "member_ids": others}, headers=keys.headers(sender)
    )
    room = int(created.json()["id"])
    msg = await send(client, keys, sender, room, "start")
    url = f"/rooms/{room}/messages/{msg['id']}"
    changes: list[Any] = [
        client.patch(url, json={"content": f"edit {i}"}, headers=keys.headers(sender)) for i in range(8)
    ]
    for user in others:
        for e in ("👍", "🎉", "❤️"):
            changes.append(client.put(f"{url}/reactions/{e}", headers=keys.headers(user)))
    async with open_stream(server.url, headers=keys.headers(others[0])) as sse:
        responses = await asyncio.gather(*changes)
        assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
        final = (await client.get(f"/rooms/{room}/messages", headers=keys.headers(sender))).json()["items"][0]
        marker = await send(client, keys, sender, room, "after the changes")
        seen = []
        while True:
            # A hang guard only: the fan-out may be waiting out a consumer-group rebalance left by another test.
            event = await sse.next(timeout=60)
            message = event.data.get("message", {}) if isinstance(event.data, dict) else {}
            if message.get("id") == marker["id"]:
                break
            if message.get("id") == msg["id"] and event.event != "message.created":
                seen.append(message)
    versions = [m["version"] for m in seen]
    assert versions == sorted(set(versions)), versions
    assert final["version"] == 1 + 8 + len(others) * 3
    assert seen[-1] == final
