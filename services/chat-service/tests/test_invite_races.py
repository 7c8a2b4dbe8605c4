"""Concurrent invites into one group: the same user twice, or several people for the last seat, answer one
201 and 409s — never a 500, never a 101st member."""

from __future__ import annotations

import asyncio

import httpx

from app.core.state import State
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import befriend, new_user


async def _group(state: State, client: httpx.AsyncClient, keys: Keys, owner: int, members: list[int]) -> int:
    created = await client.post(
        "/rooms", json={"type": "group", "name": "race", "member_ids": members}, headers=keys.headers(owner)
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def test_two_invites_of_one_user_answer_201_and_409(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    owner, friend = new_user(), new_user()
    await befriend(state, owner, friend)
    room = await _group(state, client, keys, owner, [])
    invites = [
        client.post(f"/rooms/{room}/members", json={"user_id": friend}, headers=keys.headers(owner)) for _ in range(2)
    ]
    statuses = sorted(r.status_code for r in await asyncio.gather(*invites))
    assert statuses == [201, 409]
    shown = (await client.get(f"/rooms/{room}", headers=keys.headers(friend))).json()
    assert shown["member_ids"] == sorted([owner, friend])


async def test_invites_racing_for_the_last_seat_admit_one(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    limit = state.settings.group_max_members
    owner = new_user()
    seated = [new_user() for _ in range(limit - 2)]
    racing = [new_user() for _ in range(4)]
    await befriend(state, owner, *seated, *racing)
    room = await _group(state, client, keys, owner, seated)  # one seat left
    invites = [
        client.post(f"/rooms/{room}/members", json={"user_id": user}, headers=keys.headers(owner)) for user in racing
    ]
    responses = await asyncio.gather(*invites)
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409], [r.text for r in responses]
    assert all("at most" in r.json()["detail"] for r in responses if r.status_code == 409)
    shown = (await client.get(f"/rooms/{room}", headers=keys.headers(owner))).json()
    assert len(shown["member_ids"]) == limit
