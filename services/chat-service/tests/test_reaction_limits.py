"""Reactions are bounded (docs/chat-service.md, "Limits"): one emoji per reaction, at most 50 different emoji
and 5000 reactions per message, so the document stays far below 1 MiB and its event fits the outbox row."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import bson
import emoji
import httpx
import pytest
from bson import ObjectId

from app.core.state import State
from app.models.message import MAX_DISTINCT_REACTIONS, MAX_REACTIONS, Message
from chat_shared.testing.broker import read_events
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import befriend, dm, new_user, send

#: The longest emoji there is (a kiss with two skin tones: 10 code points, 35 bytes).
LONGEST = max(emoji.EMOJI_DATA, key=lambda e: len(e.encode()))
#: Single-code-point emoji, as a client's picker sends them.
PLAIN = sorted(e for e, d in emoji.EMOJI_DATA.items() if len(e) == 1 and d["status"] == emoji.STATUS["fully_qualified"])
#: The largest user id there can be: its 19 digits make the longest reactions in an event.
BIG_ID = 2**63 - 1


async def _message(state: State, client: httpx.AsyncClient, keys: Keys) -> tuple[int, int, str]:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    msg = await send(client, keys, a, room, "react to me")
    return a, b, f"/rooms/{room}/messages/{msg['id']}/reactions"


@pytest.mark.parametrize(
    "value",
    ["x", "xx", "x" * 33, "a b", "👍👍", "👍 ", "\u200b", "\x00", "%", "👍x", LONGEST * 2, "\u0301"],
)
async def test_a_reaction_is_exactly_one_emoji(state: State, client: httpx.AsyncClient, keys: Keys, value: str) -> None:
    _, b, url = await _message(state, client, keys)
    for method in ("PUT", "DELETE"):
        response = await client.request(method, f"{url}/{quote(value, safe='')}", headers=keys.headers(b))
        assert response.status_code == 422, (value, response.text)
        assert [error["loc"] for error in response.json()["detail"]] == [["path", "emoji"]]


@pytest.mark.parametrize("value", ["👍", "❤️", "👨‍👩‍👧‍👦", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "1️⃣", "👍🏽", "🇰🇷", LONGEST])
async def test_every_kind_of_emoji_is_a_reaction(
    state: State, client: httpx.AsyncClient, keys: Keys, value: str
) -> None:
    _, b, url = await _message(state, client, keys)
    put = await client.put(f"{url}/{quote(value, safe='')}", headers=keys.headers(b))
    assert put.status_code == 200 and put.json()["reactions"] == {value: [b]}, put.text
    removed = await client.delete(f"{url}/{quote(value, safe='')}", headers=keys.headers(b))
    assert removed.status_code == 200 and removed.json()["reactions"] == {}


async def test_the_51st_different_emoji_is_409(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b, url = await _message(state, client, keys)
    for e in PLAIN[:MAX_DISTINCT_REACTIONS]:
        assert (await client.put(f"{url}/{e}", headers=keys.headers(b))).status_code == 200
    refused = await client.put(f"{url}/{PLAIN[MAX_DISTINCT_REACTIONS]}", headers=keys.headers(a))
    assert refused.status_code == 409 and "50 different reactions" in refused.json()["detail"]
    # More people on an emoji already there is fine, and taking one emoji back makes room for another.
    joined = await client.put(f"{url}/{PLAIN[0]}", headers=keys.headers(a))
    assert joined.status_code == 200 and joined.json()["reactions"][PLAIN[0]] == [b, a]
    for user in (a, b):
        assert (await client.delete(f"{url}/{PLAIN[1]}", headers=keys.headers(user))).status_code == 200
    accepted = await client.put(f"{url}/{PLAIN[MAX_DISTINCT_REACTIONS]}", headers=keys.headers(a))
    assert accepted.status_code == 200 and len(accepted.json()["reactions"]) == MAX_DISTINCT_REACTIONS


def _seed(count: int, emojis: list[str]) -> list[dict[str, Any]]:
    """``count`` reactions of people who are no longer members, spread over ``emojis``, with the longest ids."""
    return [{"e": emojis[i % len(emojis)], "u": BIG_ID - i} for i in range(count)]


async def test_a_message_at_its_reaction_bounds_stays_small_and_its_event_is_published(
    state: State, client: httpx.AsyncClient, keys: Keys, kafka_bootstrap: str
) -> None:
    """The largest message there can be (4000 characters, 50 emoji including the longest, 5000 reactions
    with 19-digit ids): its document stays under 1 MiB and its event (≈ 110 KB, beyond a 64 KiB TEXT
    column) is written and published with the change."""
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    msg = await send(client, keys, a, room, "𝕏" * 4000)
    url = f"/rooms/{room}/messages/{msg['id']}/reactions"
    emojis = [LONGEST, *PLAIN[: MAX_DISTINCT_REACTIONS - 1]]
    collection = Message.get_motor_collection()
    await collection.update_one({"_id": ObjectId(msg["id"])}, {"$set": {"reactions": _seed(MAX_REACTIONS - 1, emojis)}})

    last = await client.put(f"{url}/{quote(LONGEST, safe='')}", headers=keys.headers(b))
    assert last.status_code == 200, last.text
    assert sum(len(users) for users in last.json()["reactions"].values()) == MAX_REACTIONS
    full = await client.put(f"{url}/{quote(LONGEST, safe='')}", headers=keys.headers(a))
    assert full.status_code == 409 and f"{MAX_REACTIONS} reactions" in full.json()["detail"]

    document = await collection.find_one({"_id": ObjectId(msg["id"])})
    assert document is not None and len(bson.encode(document)) < 1024 * 1024

    def published(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            e
            for e in events
            if e.get("event_type") == "ReactionsChanged" and e["payload"]["message"]["id"] == msg["id"]
        ]

    events = await read_events(kafka_bootstrap, "message.events", lambda seen: bool(published(seen)), timeout=30)
    (event,) = published(events)
    assert event["payload"]["message"]["reactions"] == last.json()["reactions"]
    assert len(json.dumps(event, ensure_ascii=False).encode()) > 64 * 1024
