"""``GET /internal/relationships``: what chat-service asks to confirm a refusal of its permission replica."""

from __future__ import annotations

from datetime import datetime

import httpx

from chat_shared.relationships import RELATIONSHIPS_PATH
from tests.helpers import UserFactory, friend_events, types
from tests.test_friends_blocks import befriend


async def test_relationships_of_the_caller(client: httpx.AsyncClient, users: UserFactory, kafka_bootstrap: str) -> None:
    me, friend, blocked, blocker, stranger = await users.many(5)
    await befriend(client, me, friend)
    assert (await client.post("/blocks", json={"user_id": blocked.id}, headers=me.headers)).status_code == 201
    assert (await client.post("/blocks", json={"user_id": me.id}, headers=blocker.headers)).status_code == 201
    asked = [stranger.id, friend.id, blocked.id, blocker.id, friend.id]

    response = await client.get(RELATIONSHIPS_PATH, params={"user_ids": asked}, headers=me.headers)

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["user_id"] for i in items] == [stranger.id, friend.id, blocked.id, blocker.id]
    assert [i["friends"] for i in items] == [False, True, False, False]
    assert [i["blocked"] for i in items] == [False, False, True, True]
    assert [i["friends_since"] is None for i in items] == [True, False, True, True]
    # The friendship's start is its FriendRequestAccepted's ``at``, to the microsecond: a replica can
    # version its row with it.
    events = await friend_events(kafka_bootstrap, [friend.id], lambda evs: "FriendRequestAccepted" in types(evs))
    accepted = next(e for e in events if e["event_type"] == "FriendRequestAccepted")
    assert datetime.fromisoformat(items[1]["friends_since"]) == datetime.fromisoformat(accepted["payload"]["at"])


async def test_relationships_answer_for_the_token_user_only(client: httpx.AsyncClient, users: UserFactory) -> None:
    me, friend = await users.many(2)
    await befriend(client, me, friend)
    assert (await client.get(RELATIONSHIPS_PATH, params={"user_ids": [friend.id]})).status_code == 401
    seen_by_friend = await client.get(RELATIONSHIPS_PATH, params={"user_ids": [me.id]}, headers=friend.headers)
    assert seen_by_friend.json()["items"][0]["friends"] is True
    for bad in ([], [0], [2**63], list(range(1, 102))):
        response = await client.get(RELATIONSHIPS_PATH, params={"user_ids": bad}, headers=me.headers)
        assert response.status_code == 422, (bad, response.text)
