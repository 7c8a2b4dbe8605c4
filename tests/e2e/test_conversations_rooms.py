"""Conversations through the gateway: typing seen by the other member (and never replayed), presence on a
friend's stream, and a group owner removing a member, who then hears nothing more of the room."""

from __future__ import annotations

from typing import Any

from e2e_helpers import Api, User, message_event

from chat_shared.testing.sse import open_stream
from chat_shared.testing.waiting import eventually


async def _group(api: Api, owner: User, *members: User) -> dict[str, Any]:
    """A group of the owner's friends, once chat-service has the friendships (friend.events)."""
    for member in members:
        await api.befriend(owner, member)

    async def create() -> dict[str, Any] | None:
        body = {"type": "group", "name": "e2e", "member_ids": [m.id for m in members]}
        r = await api.client.post("/api/rooms", json=body, headers=owner.auth)
        if r.status_code == 403:
            return None
        assert r.status_code == 201, r.text
        room: dict[str, Any] = r.json()
        return room

    return await eventually(create, "chat-service to learn the friendships")


async def test_typing_reaches_the_other_member_and_is_never_replayed(api: Api) -> None:
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    await api.befriend(alice, bob)
    room_id = (await api.direct_room(alice, bob))["id"]
    async with open_stream(api.client, "/api/stream", headers=bob.auth) as stream:
        r = await api.client.post(f"/api/rooms/{room_id}/typing", headers=alice.auth)
        assert r.status_code == 204, r.text
        typing = await stream.until(lambda e: e.event == "typing", "bob to see alice typing")
        assert typing.data == {"room_id": room_id, "user_id": alice.id, "expires_in": 5}
        assert typing.id is None, "ephemeral events carry no id"
        r = await api.send(alice, room_id, "typed it")
        assert r.status_code == 201, r.text
        stored = await stream.until(message_event(room_id, "typed it"), "the message after typing")
    async with open_stream(api.client, "/api/stream", headers={**bob.auth, "Last-Event-ID": "0-0"}) as stream:
        replayed = await stream.collect_until(lambda e: e.id == stored.id, "the replay up to the message")
        assert all(e.event != "typing" for e in replayed), "typing is never replayed"
    outsider = await api.new_user("eve")
    r = await api.client.post(f"/api/rooms/{room_id}/typing", headers=outsider.auth)
    assert r.status_code == 403, r.text


async def test_a_friend_sees_presence_on_the_stream(api: Api) -> None:
    carol, dave = await api.new_user("carol"), await api.new_user("dave")
    await api.befriend(carol, dave)
    await api.direct_room(carol, dave)  # chat-service knows the friendship from here on
    async with open_stream(api.client, "/api/stream", headers=dave.auth) as stream:
        r = await api.client.post("/api/presence/heartbeat", headers=carol.auth)
        assert r.status_code == 200, r.text
        event = await stream.until(
            lambda e: e.event == "presence.updated" and e.data.get("user_id") == carol.id, "carol's presence"
        )
        assert event.data["is_online"] is True and event.id is None


async def test_an_owner_removes_a_member(api: Api) -> None:
    owner, member, removed = await api.new_user("own"), await api.new_user("mem"), await api.new_user("rem")
    room = await _group(api, owner, member, removed)
    room_id = room["id"]
    assert {m["user_id"]: m["role"] for m in room["members"]} == {
        owner.id: "owner",
        member.id: "member",
        removed.id: "member",
    }
    async with open_stream(api.client, "/api/stream", headers=removed.auth) as stream:
        r = await api.client.delete(f"/api/rooms/{room_id}/members/{removed.id}", headers=member.auth)
        assert r.status_code == 403, "a member removes no one"
        r = await api.client.delete(f"/api/rooms/{room_id}/members/{removed.id}", headers=owner.auth)
        assert r.status_code == 204, r.text
        left = await stream.until(lambda e: e.event == "room.member_left", "the removal on the removed stream")
        assert left.data["user_id"] == removed.id and left.data["removed_by"] == owner.id
        r = await api.client.get(f"/api/rooms/{room_id}/messages", headers=removed.auth)
        assert r.status_code == 403, r.text
        r = await api.send(owner, room_id, "after the removal")
        assert r.status_code == 201, r.text
        # The message reaches the members left, and never the removed member's stream.
        async with open_stream(api.client, "/api/stream", headers={**member.auth, "Last-Event-ID": "0-0"}) as other:
            await other.until(message_event(room_id, "after the removal"), "the message at the remaining member")
        stream.assert_quiet()
    r = await api.client.delete(f"/api/rooms/{room_id}/members/{owner.id}", headers=member.auth)
    assert r.status_code == 403, "nobody removes the owner"
    room_now = await api.room_of(owner, room_id)
    assert sorted(room_now["member_ids"]) == sorted([owner.id, member.id])
