"""CONTRACT §4: the friends list, unfriending and blocks."""

from __future__ import annotations

import httpx

from tests.helpers import TestUser, UserFactory, friend_events, types


async def befriend(client: httpx.AsyncClient, a: TestUser, b: TestUser) -> None:
    request = await client.post("/friends/requests", json={"user_id": b.id}, headers=a.headers)
    assert request.status_code == 201, request.text
    accepted = await client.post(f"/friends/requests/{request.json()['id']}/accept", headers=b.headers)
    assert accepted.status_code == 200, accepted.text


async def test_friends_list_is_paginated(client: httpx.AsyncClient, users: UserFactory) -> None:
    me = await users.make()
    friends = await users.many(5)
    for friend in friends:
        await befriend(client, me, friend)
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/friends", params=params, headers=me.headers)).json()
        seen += [f["user_id"] for f in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(f.id for f in friends)
    default = (await client.get("/friends", headers=me.headers)).json()
    assert len(default["items"]) == 5 and default["next_cursor"] is None
    assert (await client.get("/friends", params={"limit": 0}, headers=me.headers)).status_code == 422
    assert (await client.get("/friends", params={"cursor": "abc"}, headers=me.headers)).status_code == 422


async def test_unfriend_ends_it_for_both(client: httpx.AsyncClient, users: UserFactory, kafka_bootstrap: str) -> None:
    alice, bob, carol = await users.many(3)
    await befriend(client, alice, bob)
    assert (await client.delete(f"/friends/{carol.id}", headers=alice.headers)).status_code == 404
    assert (await client.delete(f"/friends/{alice.id}", headers=bob.headers)).status_code == 204
    assert (await client.get("/friends", headers=alice.headers)).json()["items"] == []
    assert (await client.get("/friends", headers=bob.headers)).json()["items"] == []
    assert (await client.delete(f"/friends/{alice.id}", headers=bob.headers)).status_code == 404
    events = await friend_events(kafka_bootstrap, [alice.id], lambda evs: "FriendRemoved" in types(evs))
    removed = events[-1]
    assert removed["event_type"] == "FriendRemoved"
    assert removed["payload"]["user_id"] == bob.id and removed["payload"]["friend_id"] == alice.id
    assert removed["_key"] == str(min(alice.id, bob.id))
    # Friends again is possible.
    await befriend(client, alice, bob)


async def test_block_ends_friendship_and_refuses_requests(
    client: httpx.AsyncClient, users: UserFactory, kafka_bootstrap: str
) -> None:
    alice, bob = await users.many(2)
    await befriend(client, alice, bob)
    blocked = await client.post("/blocks", json={"user_id": bob.id}, headers=alice.headers)
    assert blocked.status_code == 201, blocked.text
    assert blocked.json()["user_id"] == bob.id and blocked.json()["username"] == bob.username
    assert (await client.get("/friends", headers=bob.headers)).json()["items"] == []
    # Requests are refused both ways while the block stands.
    assert (await client.post("/friends/requests", json={"user_id": alice.id}, headers=bob.headers)).status_code == 403
    assert (await client.post("/friends/requests", json={"user_id": bob.id}, headers=alice.headers)).status_code == 403
    assert (await client.post("/blocks", json={"user_id": bob.id}, headers=alice.headers)).status_code == 409
    # The blocked user may block back; each lifts only their own block.
    assert (await client.post("/blocks", json={"user_id": alice.id}, headers=bob.headers)).status_code == 201
    listed = (await client.get("/blocks", headers=alice.headers)).json()
    assert [b["user_id"] for b in listed["items"]] == [bob.id] and listed["next_cursor"] is None
    assert (await client.delete(f"/blocks/{bob.id}", headers=alice.headers)).status_code == 204
    assert (await client.delete(f"/blocks/{bob.id}", headers=alice.headers)).status_code == 404
    assert (await client.post("/friends/requests", json={"user_id": bob.id}, headers=alice.headers)).status_code == 403
    assert (await client.delete(f"/blocks/{alice.id}", headers=bob.headers)).status_code == 204
    # Unblocking does not restore the friendship, but a new request works.
    assert (await client.get("/friends", headers=alice.headers)).json()["items"] == []
    assert (await client.post("/friends/requests", json={"user_id": bob.id}, headers=alice.headers)).status_code == 201

    events = await friend_events(kafka_bootstrap, [alice.id], lambda evs: len(evs) >= 8)
    assert types(events) == [
        "FriendRequestSent",
        "FriendRequestAccepted",
        "FriendRemoved",
        "UserBlocked",
        "UserBlocked",
        "UserUnblocked",
        "UserUnblocked",
        "FriendRequestSent",
    ]
    assert events[3]["payload"] | {"at": None} == {"blocker_id": alice.id, "blocked_id": bob.id, "at": None}
    assert events[2]["payload"]["user_id"] == alice.id and events[2]["payload"]["friend_id"] == bob.id


async def test_block_cancels_a_pending_request(
    client: httpx.AsyncClient, users: UserFactory, kafka_bootstrap: str
) -> None:
    alice, bob = await users.many(2)
    request_id = (await client.post("/friends/requests", json={"user_id": alice.id}, headers=bob.headers)).json()["id"]
    assert (await client.post("/blocks", json={"user_id": bob.id}, headers=alice.headers)).status_code == 201
    assert (await client.get("/friends/requests", headers=alice.headers)).json()["items"] == []
    assert (await client.post(f"/friends/requests/{request_id}/accept", headers=alice.headers)).status_code == 409
    events = await friend_events(kafka_bootstrap, [alice.id], lambda evs: "UserBlocked" in types(evs))
    assert types(events) == ["FriendRequestSent", "FriendRequestCancelled", "UserBlocked"]
    assert events[1]["payload"]["request_id"] == request_id


async def test_block_rules(client: httpx.AsyncClient, users: UserFactory) -> None:
    alice = await users.make()
    assert (await client.post("/blocks", json={"user_id": alice.id}, headers=alice.headers)).status_code == 400
    assert (await client.post("/blocks", json={"user_id": 1, "reason": "x"}, headers=alice.headers)).status_code == 422
    assert (await client.delete("/blocks/123", headers=alice.headers)).status_code == 404
    others = await users.many(3)
    for other in others:
        assert (await client.post("/blocks", json={"user_id": other.id}, headers=alice.headers)).status_code == 201
    first = (await client.get("/blocks", params={"limit": 2}, headers=alice.headers)).json()
    second = (
        await client.get("/blocks", params={"limit": 2, "cursor": first["next_cursor"]}, headers=alice.headers)
    ).json()
    assert [b["user_id"] for b in first["items"] + second["items"]] == [o.id for o in others]
    assert second["next_cursor"] is None
