"""CONTRACT §8 through the gateway: a reply and its excerpt after the quoted message is deleted, a mention
counted in the room list, and a search across the caller's rooms (`/api/messages/search`) and in one room."""

from __future__ import annotations

from itertools import count
from typing import Any

from e2e_helpers import Api

from chat_shared.testing.waiting import eventually


async def test_reply_mention_and_search(api: Api) -> None:
    alice, bob, carol = (await api.new_user("conv_a"), await api.new_user("conv_b"), await api.new_user("conv_c"))
    await api.befriend(alice, bob)
    await api.befriend(alice, carol)
    room = (await api.direct_room(alice, bob))["id"]

    # A reply quotes the message; once the quoted message is deleted, the excerpt reads null.
    quoted = await api.send(alice, room, "안녕하세요, Bob! Lunch at noon?")
    assert quoted.status_code == 201, quoted.text
    quoted_id = quoted.json()["id"]
    reply = await api.client.post(
        f"/api/rooms/{room}/messages", json={"content": "Sounds good", "reply_to": quoted_id}, headers=bob.auth
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["reply_to"] == {
        "id": quoted_id,
        "seq": quoted.json()["seq"],
        "sender_id": alice.id,
        "excerpt": "안녕하세요, Bob! Lunch at noon?",
    }
    elsewhere = await api.direct_room(alice, carol)
    foreign = await api.client.post(
        f"/api/rooms/{elsewhere['id']}/messages", json={"content": "x", "reply_to": quoted_id}, headers=alice.auth
    )
    assert foreign.status_code == 422, foreign.text

    # Search: a Hangul fragment and a Latin substring, in every room of the caller and in this one.
    async def found(user_auth: dict[str, str], q: str, path: str = "/api/messages/search") -> list[str]:
        r = await api.client.get(path, params={"q": q}, headers=user_auth)
        assert r.status_code == 200, r.text
        return [hit["message"]["content"] for hit in r.json()["items"]]

    assert await found(bob.auth, "안녕") == ["안녕하세요, Bob! Lunch at noon?"]
    assert await found(bob.auth, "UNCH", f"/api/rooms/{room}/messages/search") == ["안녕하세요, Bob! Lunch at noon?"]
    assert await found(carol.auth, "lunch") == []
    short = await api.client.get("/api/messages/search", params={"q": "a"}, headers=bob.auth)
    assert short.status_code == 422

    deleted = await api.client.delete(f"/api/rooms/{room}/messages/{quoted_id}", headers=alice.auth)
    assert deleted.status_code == 204
    page = await api.client.get(f"/api/rooms/{room}/messages", headers=alice.auth)
    shown = next(m for m in page.json()["items"] if m["id"] == reply.json()["id"])
    assert shown["reply_to"]["excerpt"] is None
    assert await found(bob.auth, "안녕") == []

    # A mention of bob by his username, once chat-service's name replica (user.events) knows him: each
    # attempt edits the same message, and an edit resolves its mentions again.
    mention = await api.send(alice, room, "one moment")
    assert mention.status_code == 201, mention.text
    attempts = count()

    async def mentioned() -> dict[str, Any] | None:
        r = await api.client.patch(
            f"/api/rooms/{room}/messages/{mention.json()['id']}",
            json={"content": f"@{bob.username.upper()} see above ({next(attempts)})"},
            headers=alice.auth,
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body if body["mentions"] == [bob.id] else None

    await eventually(mentioned, "chat-service to know bob's username")
    listed = await api.room_of(bob, room)
    assert listed["mention_count"] == 1 and listed["unread_count"] == 1  # the quoted message is deleted
    assert (await api.room_of(alice, room))["mention_count"] == 0
