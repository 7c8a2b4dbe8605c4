"""CONTRACT §4: friend requests — every rule, and the event each state change publishes."""

from __future__ import annotations

import httpx

from tests.helpers import TestUser, UserFactory, friend_events, types


async def send(client: httpx.AsyncClient, sender: TestUser, to: int) -> httpx.Response:
    return await client.post("/friends/requests", json={"user_id": to}, headers=sender.headers)


async def test_send_then_accept_makes_friends_and_publishes(
    client: httpx.AsyncClient, users: UserFactory, kafka_bootstrap: str
) -> None:
    alice, bob = await users.many(2)
    sent = await send(client, alice, bob.id)
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["requester_id"] == alice.id and body["addressee_id"] == bob.id and body["status"] == "pending"
    assert body["created_at"].endswith("Z")

    incoming = (await client.get("/friends/requests?direction=incoming", headers=bob.headers)).json()
    assert [r["id"] for r in incoming["items"]] == [body["id"]] and incoming["next_cursor"] is None
    outgoing = await client.get("/friends/requests", params={"direction": "outgoing"}, headers=alice.headers)
    assert [r["id"] for r in outgoing.json()["items"]] == [body["id"]]
    assert (await client.get("/friends/requests?direction=incoming", headers=alice.headers)).json()["items"] == []

    accepted = await client.post(f"/friends/requests/{body['id']}/accept", headers=bob.headers)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    for me, other in ((alice, bob), (bob, alice)):
        friends = (await client.get("/friends", headers=me.headers)).json()
        assert [(f["user_id"], f["username"], f["display_name"], f["is_online"]) for f in friends["items"]] == [
            (other.id, other.username, other.display_name, False)
        ]
        assert friends["items"][0]["since"].endswith("Z")
    assert (await client.get("/friends/requests", headers=bob.headers)).json()["items"] == []

    events = await friend_events(kafka_bootstrap, [alice.id], lambda evs: len(evs) >= 2)
    assert types(events) == ["FriendRequestSent", "FriendRequestAccepted"]
    low = str(min(alice.id, bob.id))
    for event in events:
        assert event["_key"] == low and event["producer"] == "friend-service"
        assert event["payload"]["request_id"] == body["id"]
        assert event["payload"]["requester_id"] == alice.id and event["payload"]["addressee_id"] == bob.id


async def test_refusals(client: httpx.AsyncClient, users: UserFactory, kafka_bootstrap: str) -> None:
    alice, bob, carol = await users.many(3)
    assert (await send(client, alice, alice.id)).status_code == 400
    assert (
        await client.post("/friends/requests", json={"user_id": bob.id, "status": "accepted"}, headers=alice.headers)
    ).status_code == 422
    assert (await client.post("/friends/requests", json={"user_id": "x"}, headers=alice.headers)).status_code == 422
    assert (await client.post("/friends/requests", json={}, headers=alice.headers)).status_code == 422

    request_id = (await send(client, alice, bob.id)).json()["id"]
    duplicate = await send(client, alice, bob.id)
    assert duplicate.status_code == 409 and "pending" in duplicate.json()["detail"]

    # Only the addressee accepts or rejects; only the requester cancels; strangers are refused.
    assert (await client.post(f"/friends/requests/{request_id}/accept", headers=alice.headers)).status_code == 403
    assert (await client.post(f"/friends/requests/{request_id}/reject", headers=carol.headers)).status_code == 403
    assert (await client.delete(f"/friends/requests/{request_id}", headers=bob.headers)).status_code == 403
    assert (await client.delete(f"/friends/requests/{request_id}", headers=carol.headers)).status_code == 403
    assert (await client.post("/friends/requests/999999/accept", headers=bob.headers)).status_code == 404
    assert (await client.delete("/friends/requests/999999", headers=alice.headers)).status_code == 404

    assert (await client.post(f"/friends/requests/{request_id}/accept", headers=bob.headers)).status_code == 200
    # Not pending any more.
    assert (await client.post(f"/friends/requests/{request_id}/accept", headers=bob.headers)).status_code == 409
    assert (await client.post(f"/friends/requests/{request_id}/reject", headers=bob.headers)).status_code == 409
    assert (await client.delete(f"/friends/requests/{request_id}", headers=alice.headers)).status_code == 409
    # Already friends, either way.
    assert (await send(client, alice, bob.id)).status_code == 409
    assert (await send(client, bob, alice.id)).status_code == 409

    # Nothing refused above published anything: the last event seen is the one accept.
    assert (await client.delete(f"/friends/{bob.id}", headers=alice.headers)).status_code == 204
    events = await friend_events(kafka_bootstrap, [alice.id, bob.id], lambda evs: "FriendRemoved" in types(evs))
    assert types(events) == ["FriendRequestSent", "FriendRequestAccepted", "FriendRemoved"]


async def test_reverse_request_accepts_the_pending_one(
    client: httpx.AsyncClient, users: UserFactory, kafka_bootstrap: str
) -> None:
    alice, bob = await users.many(2)
    first = (await send(client, alice, bob.id)).json()
    reverse = await send(client, bob, alice.id)
    assert reverse.status_code == 200, reverse.text
    assert reverse.json() == {**first, "status": "accepted"}
    assert [f["user_id"] for f in (await client.get("/friends", headers=alice.headers)).json()["items"]] == [bob.id]
    events = await friend_events(kafka_bootstrap, [alice.id], lambda evs: len(evs) >= 2)
    assert types(events) == ["FriendRequestSent", "FriendRequestAccepted"]


async def test_reject_and_cancel(client: httpx.AsyncClient, users: UserFactory, kafka_bootstrap: str) -> None:
    alice, bob, carol = await users.many(3)
    to_bob = (await send(client, alice, bob.id)).json()["id"]
    to_carol = (await send(client, alice, carol.id)).json()["id"]
    rejected = await client.post(f"/friends/requests/{to_bob}/reject", headers=bob.headers)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    cancelled = await client.delete(f"/friends/requests/{to_carol}", headers=alice.headers)
    assert cancelled.status_code == 204
    assert (await client.get("/friends/requests?direction=outgoing", headers=alice.headers)).json()["items"] == []
    assert (await client.get("/friends", headers=alice.headers)).json()["items"] == []
    # After a rejection or a cancellation a new request may be sent.
    again = await send(client, alice, bob.id)
    assert again.status_code == 201 and again.json()["id"] != to_bob

    events = await friend_events(kafka_bootstrap, [alice.id], lambda evs: len(evs) >= 5)
    assert sorted(types(events)) == sorted(
        [
            "FriendRequestSent",
            "FriendRequestSent",
            "FriendRequestRejected",
            "FriendRequestCancelled",
            "FriendRequestSent",
        ]
    )
    cancel = next(e for e in events if e["event_type"] == "FriendRequestCancelled")
    assert cancel["payload"]["request_id"] == to_carol and cancel["_key"] == str(min(alice.id, carol.id))


async def test_pending_list_is_paginated(client: httpx.AsyncClient, users: UserFactory) -> None:
    target = await users.make()
    senders = await users.many(5)
    for sender in senders:
        assert (await send(client, sender, target.id)).status_code == 201
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"direction": "incoming", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/friends/requests", params=params, headers=target.headers)).json()
        assert len(page["items"]) <= 2
        seen += [r["requester_id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [s.id for s in reversed(senders)]  # newest first
    bad = await client.get("/friends/requests", params={"limit": 101}, headers=target.headers)
    assert bad.status_code == 422
    assert (
        await client.get("/friends/requests", params={"direction": "sideways"}, headers=target.headers)
    ).status_code == 422
