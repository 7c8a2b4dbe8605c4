"""Concurrency: simultaneous mutual requests, accept racing cancel, block racing accept."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from app.core.state import State
from app.models.friend import FriendRequest, Friendship
from tests.helpers import UserFactory, friend_events, types

ROUNDS = 5


async def friendship_rows(state: State, a: int, b: int) -> int:
    async with state.sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Friendship)
                .where(Friendship.user_id.in_([a, b]), Friendship.friend_id.in_([a, b]))
            )
            or 0
        )


async def test_mutual_requests_at_once_make_one_friendship(
    client: httpx.AsyncClient, users: UserFactory, state: State, kafka_bootstrap: str
) -> None:
    pairs = [await users.many(2) for _ in range(ROUNDS)]
    for alice, bob in pairs:
        first, second = await asyncio.gather(
            client.post("/friends/requests", json={"user_id": bob.id}, headers=alice.headers),
            client.post("/friends/requests", json={"user_id": alice.id}, headers=bob.headers),
        )
        assert sorted([first.status_code, second.status_code]) == [200, 201], (first.text, second.text)
        assert await friendship_rows(state, alice.id, bob.id) == 2  # one friendship = its two directions
        async with state.sessionmaker() as session:
            requests = (
                await session.scalars(select(FriendRequest).where(FriendRequest.requester_id.in_([alice.id, bob.id])))
            ).all()
        assert [r.status for r in requests] == ["accepted"]
    ids = [p[0].id for p in pairs]
    events = await friend_events(kafka_bootstrap, ids, lambda evs: len(evs) >= 2 * ROUNDS)
    assert sorted(types(events)) == ["FriendRequestAccepted"] * ROUNDS + ["FriendRequestSent"] * ROUNDS


async def test_accept_racing_cancel_has_one_outcome(
    client: httpx.AsyncClient, users: UserFactory, state: State, kafka_bootstrap: str
) -> None:
    outcomes = []
    pairs = [await users.many(2) for _ in range(ROUNDS)]
    for alice, bob in pairs:
        request_id = (await client.post("/friends/requests", json={"user_id": bob.id}, headers=alice.headers)).json()[
            "id"
        ]
        accept, cancel = await asyncio.gather(
            client.post(f"/friends/requests/{request_id}/accept", headers=bob.headers),
            client.delete(f"/friends/requests/{request_id}", headers=alice.headers),
        )
        assert sorted([accept.status_code, cancel.status_code]) in ([200, 409], [204, 409]), (accept, cancel)
        async with state.sessionmaker() as session:
            request = await session.get(FriendRequest, request_id)
        assert request is not None
        status = request.status
        rows = await friendship_rows(state, alice.id, bob.id)
        if accept.status_code == 200:
            assert status == "accepted" and rows == 2
        else:
            assert status == "cancelled" and rows == 0
        outcomes.append(status)
    ids = [p[0].id for p in pairs]
    events = await friend_events(kafka_bootstrap, ids, lambda evs: len(evs) >= 2 * ROUNDS)
    closing = sorted(t for t in types(events) if t != "FriendRequestSent")
    assert closing == sorted("FriendRequestAccepted" if s == "accepted" else "FriendRequestCancelled" for s in outcomes)


async def test_block_racing_accept_leaves_no_friendship(
    client: httpx.AsyncClient, users: UserFactory, state: State
) -> None:
    for _ in range(ROUNDS):
        alice, bob = await users.many(2)
        request_id = (await client.post("/friends/requests", json={"user_id": bob.id}, headers=alice.headers)).json()[
            "id"
        ]
        accept, block = await asyncio.gather(
            client.post(f"/friends/requests/{request_id}/accept", headers=bob.headers),
            client.post("/blocks", json={"user_id": bob.id}, headers=alice.headers),
        )
        assert block.status_code == 201
        assert accept.status_code in (200, 409)
        assert await friendship_rows(state, alice.id, bob.id) == 0
