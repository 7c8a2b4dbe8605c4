"""The whole journey across the three services, and the cases that cross service boundaries."""

from __future__ import annotations

import uuid

from e2e_helpers import Api, message_event

from chat_shared.testing.sse import open_stream
from chat_shared.testing.waiting import eventually


async def test_the_whole_journey(api: Api) -> None:
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    await api.befriend(alice, bob)
    room = await api.direct_room(alice, bob)
    assert room["type"] == "direct"
    assert sorted(room["member_ids"]) == sorted([alice.id, bob.id])
    again = await api.client.post("/api/rooms", json={"type": "direct", "member_ids": [alice.id]}, headers=bob.auth)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == room["id"], "one direct room per pair"
    room_id = room["id"]

    # Live delivery: bob's stream sees alice's message.
    async with open_stream(api.client, "/api/stream", headers=bob.auth) as stream:
        key = uuid.uuid4().hex
        r = await api.send(alice, room_id, "hello bob", key)
        assert r.status_code == 201, r.text
        first = r.json()
        assert first["seq"] >= 1 and first["sender_id"] == alice.id
        dup = await api.send(alice, room_id, "hello bob", key)
        assert dup.status_code == 200 and dup.json()["id"] == first["id"], "client_msg_id deduplicates"
        event = await stream.until(message_event(room_id, "hello bob"), "message.created for hello bob")
        assert event.id, "every event has an id"
        last_seen = event.id

    # Resume: what was sent while bob was away is replayed after Last-Event-ID, without the one he saw.
    r = await api.send(alice, room_id, "while you were away")
    assert r.status_code == 201, r.text
    second = r.json()
    assert second["seq"] > first["seq"]
    async with open_stream(api.client, "/api/stream", headers={**bob.auth, "Last-Event-ID": last_seen}) as stream:
        events = await stream.collect_until(message_event(room_id, "while you were away"), "the replayed message")
        assert not any(message_event(room_id, "hello bob")(e) for e in events), "no duplicate after resume"

    # Unread counts and the read position.
    room_for_bob = await api.room_of(bob, room_id)
    assert room_for_bob["unread_count"] == 2
    assert (await api.room_of(alice, room_id))["unread_count"] == 0, "own messages are never unread"
    r = await api.client.post(f"/api/rooms/{room_id}/read", headers=bob.auth, json={"seq": second["seq"]})
    assert r.status_code == 200, r.text
    room_for_bob = await api.room_of(bob, room_id)
    assert room_for_bob["unread_count"] == 0
    assert room_for_bob["last_read_seq"] == second["seq"]

    # A block stops the direct room: sending is refused once chat-service has the block (friend.events).
    r = await api.client.post("/api/blocks", json={"user_id": alice.id}, headers=bob.auth)
    assert r.status_code in (200, 201), r.text

    async def refused() -> bool | None:
        r = await api.send(alice, room_id, "are you there?")
        assert r.status_code in (201, 403), r.text
        return True if r.status_code == 403 else None

    await eventually(refused, "sending in a blocked direct room to be 403")
    history = await api.client.get(f"/api/rooms/{room_id}/messages", headers=bob.auth)
    assert history.status_code == 200, history.text


async def test_rename_shows_in_the_friends_list(api: Api) -> None:
    carol, dave = await api.new_user("carol"), await api.new_user("dave")
    await api.befriend(carol, dave)
    r = await api.client.patch("/api/profile/me", headers=dave.auth, json={"display_name": "Dave Renamed"})
    assert r.status_code == 200, r.text

    async def renamed() -> bool | None:
        r = await api.client.get("/api/friends", headers=carol.auth)
        assert r.status_code == 200, r.text
        names = {f["user_id"]: f["display_name"] for f in r.json()["items"]}
        assert dave.id in names, f"dave not in carol's friends: {names}"
        return True if names[dave.id] == "Dave Renamed" else None

    await eventually(renamed, "the new display name in the friends list (user.events → friend-service)")


async def test_block_stops_a_direct_room_and_the_friendship(api: Api) -> None:
    """The blocker, too, can no longer send in the pair's direct room; the friendship ends; no new request."""
    erin, frank = await api.new_user("erin"), await api.new_user("frank")
    await api.befriend(erin, frank)
    room_id = (await api.direct_room(frank, erin))["id"]
    r = await api.send(frank, room_id, "before the block")
    assert r.status_code == 201, r.text

    r = await api.client.post("/api/blocks", json={"user_id": frank.id}, headers=erin.auth)
    assert r.status_code in (200, 201), r.text
    r = await api.client.get("/api/friends", headers=erin.auth)
    assert r.status_code == 200, r.text
    assert frank.id not in {f["user_id"] for f in r.json()["items"]}, "blocking ends the friendship"
    r = await api.client.post("/api/friends/requests", json={"user_id": erin.id}, headers=frank.auth)
    assert r.status_code == 403, r.text

    async def refused() -> bool | None:
        r = await api.send(erin, room_id, "from the blocker")
        assert r.status_code in (201, 403), r.text
        return True if r.status_code == 403 else None

    await eventually(refused, "the blocker's message in the direct room to be refused (friend.events → chat)")
    r = await api.send(frank, room_id, "from the blocked one")
    assert r.status_code == 403, r.text
    history = await api.client.get(f"/api/rooms/{room_id}/messages", headers=frank.auth)
    assert history.status_code == 200, history.text
    contents = [m["content"] for m in history.json()["items"]]
    assert contents[0] == "before the block", "history stays readable"
    assert "from the blocked one" not in contents  # (the blocker's may have landed before chat-service knew)
