"""Read-your-writes across services: acting in chat-service right after accepting in friend-service.

chat-service's permission replica hears of a friendship through ``friend.events`` some time after the accept
answered; it confirms a refusal with friend-service before giving it, so no request here ever waits for that.
"""

from __future__ import annotations

from e2e_helpers import Api, User


async def users(api: Api, n: int, prefix: str) -> list[User]:
    # One after the other: user-service bounds concurrent password hashing and answers 503 past it.
    return [await api.new_user(prefix) for _ in range(n)]


async def test_a_direct_room_opens_right_after_the_accept(api: Api) -> None:
    askers, accepters = await users(api, 20, "ryw_a"), await users(api, 20, "ryw_b")
    for asker, accepter in zip(askers, accepters, strict=True):
        await api.befriend(asker, accepter)
        opened = await api.client.post(
            "/api/rooms", json={"type": "direct", "member_ids": [accepter.id]}, headers=asker.auth
        )
        assert opened.status_code == 201, f"{asker.username} → {accepter.username}: {opened.status_code} {opened.text}"


async def test_a_friend_joins_a_group_right_after_the_accept(api: Api) -> None:
    owner, first, second = await users(api, 3, "ryw_g")
    await api.befriend(owner, first)
    created = await api.client.post(
        "/api/rooms", json={"type": "group", "name": "right away", "member_ids": [first.id]}, headers=owner.auth
    )
    assert created.status_code == 201, created.text
    await api.befriend(second, owner)
    room_id = created.json()["id"]
    invited = await api.client.post(f"/api/rooms/{room_id}/members", json={"user_id": second.id}, headers=owner.auth)
    assert invited.status_code == 201, invited.text
    assert sorted(invited.json()["member_ids"]) == sorted([owner.id, first.id, second.id])
