"""The permission replica is fed by friend.events from the broker; old events never undo newer ones."""

from __future__ import annotations

from datetime import timedelta

import httpx

from app.core.state import State
from chat_shared.events.friend import FriendRemoved, FriendRequestAccepted, UserBlocked, UserUnblocked
from chat_shared.events.user import UserRegistered
from chat_shared.testing.tokens import TestKeys as Keys
from chat_shared.testing.waiting import eventually
from tests.support import apply, new_user, now, publish


async def _dm_status(client: httpx.AsyncClient, keys: Keys, a: int, b: int) -> int:
    response = await client.post("/rooms", json={"type": "direct", "member_ids": [b]}, headers=keys.headers(a))
    return response.status_code


async def test_friend_events_from_the_broker_drive_permissions(
    state: State, client: httpx.AsyncClient, keys: Keys, kafka_bootstrap: str
) -> None:
    a, b = new_user(), new_user()
    assert await _dm_status(client, keys, a, b) == 403
    accepted = FriendRequestAccepted(request_id=1, requester_id=a, addressee_id=b, at=now())
    await publish(kafka_bootstrap, accepted, "friend-service")

    async def allowed() -> bool:
        return await _dm_status(client, keys, a, b) == 201

    await eventually(allowed, "the friendship to allow a direct room")
    assert await _dm_status(client, keys, b, a) == 200  # the room now exists
    await publish(kafka_bootstrap, UserBlocked(blocker_id=b, blocked_id=a, at=now()), "friend-service")

    async def refused() -> bool:
        rooms = (await client.get("/rooms", headers=keys.headers(a))).json()["items"]
        sent = await client.post(f"/rooms/{rooms[0]['id']}/messages", json={"content": "x"}, headers=keys.headers(a))
        return sent.status_code == 403

    await eventually(refused, "the block to refuse a message")


async def test_an_older_event_does_not_undo_a_newer_one(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b = new_user(), new_user()
    t = now()
    await apply(state, FriendRequestAccepted(request_id=1, requester_id=a, addressee_id=b, at=t))
    await apply(state, FriendRemoved(user_id=a, friend_id=b, at=t - timedelta(seconds=5)))
    assert await _dm_status(client, keys, a, b) == 201
    c = new_user()
    await apply(state, UserUnblocked(blocker_id=a, blocked_id=c, at=t))
    await apply(state, UserBlocked(blocker_id=a, blocked_id=c, at=t - timedelta(seconds=5)))
    await apply(state, FriendRequestAccepted(request_id=2, requester_id=a, addressee_id=c, at=t + timedelta(seconds=1)))
    assert await _dm_status(client, keys, c, a) == 201


async def test_user_events_fill_the_name_replica(state: State, kafka_bootstrap: str) -> None:
    from app.models.replica import UserReplica

    user = new_user()
    registered = UserRegistered(user_id=user, username=f"u{user}", display_name="Ann", created_at=now())
    await publish(kafka_bootstrap, registered, "user-service")

    async def stored() -> bool:
        async with state.sessionmaker() as session:
            row = await session.get(UserReplica, user)
            return row is not None and row.display_name == "Ann"

    await eventually(stored, "the name in the replica")
