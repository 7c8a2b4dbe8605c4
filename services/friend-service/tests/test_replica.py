"""The users replica from ``user.events`` and the presence replica from ``user.online_status``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.core.state import State
from app.models.friend import ReplicaUser
from app.services.presence import presence_key
from chat_shared.events.topics import USER_EVENTS, USER_ONLINE_STATUS
from chat_shared.testing.broker import read_events
from chat_shared.testing.waiting import eventually
from tests.helpers import TestUser, UserFactory, envelope, publish

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def profile(
    user_id: int, display_name: str, at: datetime, username: str | None = None, avatar_url: str | None = None
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "username": username or f"u{user_id}",
        "display_name": display_name,
        "status_message": None,
        "avatar_url": avatar_url,
        "updated_at": at.isoformat(),
    }


async def replica_row(state: State, user_id: int) -> ReplicaUser | None:
    async with state.sessionmaker() as session:
        return await session.get(ReplicaUser, user_id)


async def befriend(client: httpx.AsyncClient, a: TestUser, b: TestUser) -> None:
    request_id = (await client.post("/friends/requests", json={"user_id": b.id}, headers=a.headers)).json()["id"]
    assert (await client.post(f"/friends/requests/{request_id}/accept", headers=b.headers)).status_code == 200


async def test_rename_shows_in_friends_list(
    client: httpx.AsyncClient, users: UserFactory, kafka_bootstrap: str
) -> None:
    alice, bob = await users.many(2)
    await befriend(client, alice, bob)
    await publish(
        kafka_bootstrap,
        USER_EVENTS,
        envelope("UserProfileUpdated", profile(bob.id, "Bobby Tables", datetime.now(UTC), "bobby")),
        bob.id,
    )

    async def renamed() -> bool:
        items = (await client.get("/friends", headers=alice.headers)).json()["items"]
        return bool(items) and items[0]["display_name"] == "Bobby Tables" and items[0]["username"] == "bobby"

    await eventually(renamed, "the new name in the friends list")


async def test_new_avatar_shows_in_friends_list(
    client: httpx.AsyncClient, users: UserFactory, kafka_bootstrap: str, state: State
) -> None:
    alice, bob = await users.many(2)
    await befriend(client, alice, bob)
    avatar = "http://localhost:8000/api/users/avatars/" + "ab" * 32 + ".webp"
    updated = profile(bob.id, "Bob", datetime.now(UTC), avatar_url=avatar)
    await publish(kafka_bootstrap, USER_EVENTS, envelope("UserProfileUpdated", updated), bob.id)

    async def shown() -> bool:
        items = (await client.get("/friends", headers=alice.headers)).json()["items"]
        return bool(items) and items[0]["avatar_url"] == avatar

    await eventually(shown, "the new avatar in the friends list")
    row = await replica_row(state, bob.id)
    assert row is not None and row.avatar_url == avatar


async def test_registered_user_can_be_befriended(
    client: httpx.AsyncClient, users: UserFactory, state: State, kafka_bootstrap: str
) -> None:
    alice = await users.make()
    new_id = users.next_id()
    await publish(
        kafka_bootstrap,
        USER_EVENTS,
        envelope(
            "UserRegistered",
            {"user_id": new_id, "username": "newcomer", "display_name": "New", "created_at": T0.isoformat()},
        ),
        new_id,
    )
    await eventually(lambda: replica_row(state, new_id), "the registered user in the replica")
    response = await client.post("/friends/requests", json={"user_id": new_id}, headers=alice.headers)
    assert response.status_code == 201


async def test_duplicates_and_stale_updates_change_nothing(
    users: UserFactory, state: State, kafka_bootstrap: str
) -> None:
    user_id = users.next_id()
    registered = envelope(
        "UserRegistered",
        {"user_id": user_id, "username": f"u{user_id}", "display_name": "v0", "created_at": T0.isoformat()},
    )
    newer = envelope("UserProfileUpdated", profile(user_id, "v2", T0 + timedelta(minutes=2)))
    older = envelope("UserProfileUpdated", profile(user_id, "v1", T0 + timedelta(minutes=1)))
    # Out of order: the newest update first, then the registration, an older update, and redeliveries
    # of each (same event_id) — then a marker event on the same key tells us all were handled.
    for event in (newer, registered, older, newer, registered, older):
        await publish(kafka_bootstrap, USER_EVENTS, event, user_id)
    marker_id = users.next_id()
    await publish(
        kafka_bootstrap,
        USER_EVENTS,
        envelope(
            "UserRegistered",
            {"user_id": marker_id, "username": "marker", "display_name": "m", "created_at": T0.isoformat()},
        ),
        user_id,
    )
    await eventually(lambda: replica_row(state, marker_id), "the marker event applied")
    row = await replica_row(state, user_id)
    assert row is not None
    assert (row.display_name, row.updated_at) == ("v2", T0 + timedelta(minutes=2))
    # A redelivered copy of an already applied event with a *changed* body is still skipped by event_id.
    replay = dict(older, payload=profile(user_id, "v9", T0 + timedelta(minutes=9)))
    await publish(kafka_bootstrap, USER_EVENTS, replay, user_id)
    marker2 = users.next_id()
    await publish(
        kafka_bootstrap,
        USER_EVENTS,
        envelope(
            "UserRegistered",
            {"user_id": marker2, "username": "marker2", "display_name": "m", "created_at": T0.isoformat()},
        ),
        user_id,
    )
    await eventually(lambda: replica_row(state, marker2), "the second marker event applied")
    assert (await replica_row(state, user_id)).display_name == "v2"  # type: ignore[union-attr]


async def test_malformed_event_goes_to_dlq_and_consumer_continues(
    users: UserFactory, state: State, kafka_bootstrap: str
) -> None:
    user_id = users.next_id()
    tag = uuid.uuid4().hex
    await publish(kafka_bootstrap, USER_EVENTS, f"not json {tag}".encode(), user_id)
    bad_payload = envelope("UserProfileUpdated", {"user_id": user_id, "tag": tag})  # misses required fields
    await publish(kafka_bootstrap, USER_EVENTS, bad_payload, user_id)
    await publish(
        kafka_bootstrap,
        USER_EVENTS,
        envelope(
            "UserRegistered",
            {"user_id": user_id, "username": "after", "display_name": "After", "created_at": T0.isoformat()},
        ),
        user_id,
    )

    def replicas(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Every group on the topic dead-letters a malformed envelope (the revocation consumer too).
        return [e for e in events if tag in str(e) and e["_headers"]["dlq.group"] == "friend-service.user-replica"]

    dlq = await read_events(kafka_bootstrap, "user.events.dlq", lambda evs: len(replicas(evs)) >= 2)
    mine = replicas(dlq)
    assert any("malformed" in e["_headers"]["dlq.error"] for e in mine)
    assert any(e.get("event_id") == bad_payload["event_id"] for e in mine)
    await eventually(lambda: replica_row(state, user_id), "the event after the poison ones")


async def test_presence_from_online_status_events(
    client: httpx.AsyncClient, users: UserFactory, state: State, kafka_bootstrap: str
) -> None:
    alice, bob = await users.many(2)
    await befriend(client, alice, bob)
    now = datetime.now(UTC)

    async def bob_online() -> bool:
        return bool((await client.get("/friends", headers=alice.headers)).json()["items"][0]["is_online"])

    await publish(
        kafka_bootstrap, USER_ONLINE_STATUS, envelope("UserOnline", {"user_id": bob.id, "at": now.isoformat()}), bob.id
    )
    await eventually(bob_online, "bob online")
    # A stale offline transition (older than the online one) is ignored: a later event on the same partition
    # (carol's, keyed by bob's id) has been applied and bob is still online.
    carol = await users.make()
    await publish(
        kafka_bootstrap,
        USER_ONLINE_STATUS,
        envelope("UserOffline", {"user_id": bob.id, "at": (now - timedelta(seconds=5)).isoformat()}),
        bob.id,
    )
    await publish(
        kafka_bootstrap,
        USER_ONLINE_STATUS,
        envelope("UserOnline", {"user_id": carol.id, "at": now.isoformat()}),
        bob.id,
    )
    await eventually(lambda: state.redis.exists(presence_key(carol.id)), "the event after the stale one")
    assert await bob_online()
    # A newer one applies.
    await publish(
        kafka_bootstrap,
        USER_ONLINE_STATUS,
        envelope("UserOffline", {"user_id": bob.id, "at": (now + timedelta(seconds=5)).isoformat()}),
        bob.id,
    )

    async def bob_offline() -> bool:
        return not await bob_online()

    await eventually(bob_offline, "bob offline")
