"""CONTRACT §8, presence on the stream: ``user.online_status`` becomes ``presence.updated`` on the open
streams of the user's friends, on every process; never across a block, never to strangers, never replayed;
a change too old when it is read is not announced."""

from __future__ import annotations

from datetime import timedelta

import httpx

from app.core.state import State
from chat_shared.events.user import UserOffline, UserOnline
from chat_shared.schemas import rfc3339
from chat_shared.testing.sse import SSE, open_stream
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import UvicornServer, befriend, block, dm, new_user, now, publish


async def _presence(sse: SSE) -> dict[str, object]:
    event = await sse.until(lambda e: e.event == "presence.updated", "presence.updated")
    assert event.id is None  # ephemeral: no id line, never replayed
    return dict(event.data)


async def _marker(client: httpx.AsyncClient, keys: Keys, state: State, sender: int, to: int) -> None:
    """An ephemeral event to ``to``, published after everything before it: whatever ``to``'s stream did not
    get before it, it never gets."""
    await befriend(state, sender, to)
    room = await dm(client, keys, sender, to)
    assert (await client.post(f"/rooms/{room}/typing", headers=keys.headers(sender))).status_code == 204


async def test_friends_on_every_process_see_a_user_come_online_and_go_offline(
    state: State,
    client: httpx.AsyncClient,
    server: UvicornServer,
    other_server: UvicornServer,
    keys: Keys,
    kafka_bootstrap: str,
) -> None:
    user, near, far, blocked, stranger, other = (new_user() for _ in range(6))
    await befriend(state, user, near, far, blocked)
    await block(state, blocked, user)  # a block ends the friendship: no presence either way
    async with (
        open_stream(server.url, headers=keys.headers(near)) as near_sse,
        open_stream(other_server.url, headers=keys.headers(far)) as far_sse,
        open_stream(other_server.url, headers=keys.headers(blocked)) as blocked_sse,
        open_stream(server.url, headers=keys.headers(stranger)) as stranger_sse,
    ):
        online_at = now()
        await publish(kafka_bootstrap, UserOnline(user_id=user, at=online_at), "user-service")
        expected = {"user_id": user, "is_online": True, "last_seen_at": rfc3339(online_at)}
        assert await _presence(near_sse) == expected
        assert await _presence(far_sse) == expected
        offline_at = now()
        await publish(kafka_bootstrap, UserOffline(user_id=user, at=offline_at), "user-service")
        expected = {"user_id": user, "is_online": False, "last_seen_at": rfc3339(offline_at)}
        assert await _presence(near_sse) == expected
        assert await _presence(far_sse) == expected
        for sse, member in ((blocked_sse, blocked), (stranger_sse, stranger)):
            await _marker(client, keys, state, other, member)
            seen = await sse.collect_until(lambda e: e.event == "typing")
            assert not [e for e in seen if e.event == "presence.updated"]


async def test_a_stale_change_is_not_announced_and_presence_is_never_replayed(
    state: State, client: httpx.AsyncClient, server: UvicornServer, keys: Keys, kafka_bootstrap: str
) -> None:
    user, friend = new_user(), new_user()
    await befriend(state, user, friend)
    room = await dm(client, keys, user, friend)
    async with open_stream(server.url, headers=keys.headers(friend)) as sse:
        stale = now() - timedelta(seconds=state.settings.presence_max_age_s + 60)
        await publish(kafka_bootstrap, UserOffline(user_id=user, at=stale), "user-service")
        await publish(kafka_bootstrap, UserOnline(user_id=user, at=now()), "user-service")  # same key: after it
        assert (await _presence(sse))["is_online"] is True
        sent = await client.post(f"/rooms/{room}/messages", json={"content": "hi"}, headers=keys.headers(user))
        assert sent.status_code == 201
        stored = await sse.until(lambda e: e.event == "message.created")
    async with open_stream(server.url, headers={**keys.headers(friend), "Last-Event-ID": "0-0"}) as replay:
        replayed = await replay.collect_until(lambda e: e.event == "message.created" and e.id == stored.id)
        assert all(e.id for e in replayed) and "presence.updated" not in {e.event for e in replayed}
