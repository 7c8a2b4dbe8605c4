"""Concurrency: seq under concurrent senders, one DM under concurrent opens, one message under retries."""

from __future__ import annotations

import asyncio

import httpx

from app.core.state import State
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import befriend, dm, new_user


async def test_concurrent_senders_get_distinct_increasing_seqs(
    state: State, client: httpx.AsyncClient, keys: Keys
) -> None:
    owner = new_user()
    members = [new_user() for _ in range(19)]
    await befriend(state, owner, *members)
    room = (
        await client.post(
            "/rooms", json={"type": "group", "name": "busy", "member_ids": members}, headers=keys.headers(owner)
        )
    ).json()["id"]
    senders = [owner, *members]
    responses = await asyncio.gather(
        *(
            client.post(f"/rooms/{room}/messages", json={"content": f"from {u}"}, headers=keys.headers(u))
            for u in senders
        )
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses if r.status_code != 201]
    seqs = sorted(r.json()["seq"] for r in responses)
    assert seqs == list(range(1, 21))
    page = (await client.get(f"/rooms/{room}/messages", headers=keys.headers(owner))).json()
    assert [m["seq"] for m in page["items"]] == list(range(1, 21))
    assert {m["content"] for m in page["items"]} == {f"from {u}" for u in senders}


async def test_concurrent_dm_opens_yield_one_room(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    responses = await asyncio.gather(
        *(
            client.post(
                "/rooms",
                json={"type": "direct", "member_ids": [b if i % 2 else a]},
                headers=keys.headers(a if i % 2 else b),
            )
            for i in range(10)
        )
    )
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    rooms = (await client.get("/rooms", headers=keys.headers(a))).json()["items"]
    assert len(rooms) == 1 and rooms[0]["member_ids"] == sorted([a, b])


async def test_concurrent_retries_store_one_message(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    responses = await asyncio.gather(
        *(
            client.post(
                f"/rooms/{room}/messages",
                json={"content": "once", "client_msg_id": "retry-me"},
                headers=keys.headers(a),
            )
            for _ in range(8)
        )
    )
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    page = (await client.get(f"/rooms/{room}/messages", headers=keys.headers(b))).json()
    assert [m["content"] for m in page["items"]] == ["once"]
    after = await client.post(f"/rooms/{room}/messages", json={"content": "next"}, headers=keys.headers(a))
    assert after.json()["seq"] == 2  # the retries gave back every seq they took
