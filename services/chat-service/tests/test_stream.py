"""CONTRACT §6: the live stream — auth (Bearer or ticket, never a token in the URL), events of every kind,
heartbeat, resume with Last-Event-ID without gap or duplicate, reset, rooms joined while connected."""

from __future__ import annotations

import httpx

from app.core.state import State
from chat_shared.testing.metrics import scrape
from chat_shared.testing.sse import open_stream
from chat_shared.testing.tokens import TestKeys as Keys
from chat_shared.testing.waiting import eventually
from tests.support import UvicornServer, befriend, dm, new_user, send


async def test_stream_requires_auth_and_never_takes_a_token_in_the_url(server: UvicornServer, keys: Keys) -> None:
    user = new_user()
    async with open_stream(server.url, expect=401):
        pass
    async with open_stream(server.url, params={"access_token": keys.token(user)}, expect=401):
        pass
    async with open_stream(server.url, params={"ticket": "x" * 43}, expect=401):
        pass
    async with open_stream(server.url, headers={"Authorization": "Bearer nonsense"}, expect=401):
        pass


async def test_ticket_opens_the_users_stream(
    state: State, client: httpx.AsyncClient, server: UvicornServer, keys: Keys
) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    issued = await client.post("/stream/tickets", headers=keys.headers(b))
    assert issued.status_code == 201 and issued.json()["expires_in"] == 300
    assert (await client.post("/stream/tickets")).status_code == 401
    async with open_stream(server.url, params={"ticket": issued.json()["ticket"]}) as sse:
        sent = await send(client, keys, a, room, "via ticket")
        event = await sse.until(lambda e: e.event == "message.created")
        assert event.data == {"room_id": room, "message": sent}


async def test_every_kind_of_event_reaches_members(
    state: State, client: httpx.AsyncClient, server: UvicornServer, keys: Keys
) -> None:
    a, b, c = new_user(), new_user(), new_user()
    await befriend(state, a, b, c)
    async with open_stream(server.url, headers=keys.headers(b)) as sse:
        room = (
            await client.post(
                "/rooms", json={"type": "group", "name": "all", "member_ids": [b]}, headers=keys.headers(a)
            )
        ).json()["id"]
        created = await sse.next()
        assert created.event == "room.created" and created.data["room"]["member_ids"] == sorted([a, b])
        msg = await send(client, keys, a, room, "first")
        url = f"/rooms/{room}/messages/{msg['id']}"
        await client.patch(url, json={"content": "edited"}, headers=keys.headers(a))
        await client.put(f"{url}/reactions/🎉", headers=keys.headers(b))
        await client.post(f"/rooms/{room}/read", json={"seq": 1}, headers=keys.headers(b))
        await client.delete(url, headers=keys.headers(a))
        await client.post(f"/rooms/{room}/members", json={"user_id": c}, headers=keys.headers(a))
        await client.delete(f"/rooms/{room}/members/me", headers=keys.headers(c))
        wanted = [
            "message.created",
            "message.updated",
            "reaction.updated",
            "read.updated",
            "message.deleted",
            "room.member_joined",
            "room.member_left",
        ]
        got = [await sse.next() for _ in wanted]
        # chat.events and message.events are separate topics: order is per room *within* each.
        assert sorted(e.event for e in got) == sorted(wanted)
        by_kind = {e.event: e for e in got}
        assert by_kind["message.updated"].data["message"]["content"] == "edited"
        assert by_kind["reaction.updated"].data["message"]["reactions"] == {"🎉": [b]}
        assert by_kind["read.updated"].data == {"room_id": room, "user_id": b, "last_read_seq": 1}
        assert by_kind["message.deleted"].data["message"]["deleted"] is True
        assert by_kind["room.member_left"].data["user_id"] == c
        assert all(e.data["room_id"] == room for e in got)
        ids = [e.id for e in [created, *got]]
        assert len(set(ids)) == len(ids)


async def test_heartbeat_comment(server: UvicornServer, keys: Keys) -> None:
    async with open_stream(server.url, headers=keys.headers(new_user())) as sse:
        await eventually(lambda: "ping" in sse.comments, "a heartbeat comment")


async def test_resume_replays_exactly_the_missed_events(
    state: State, client: httpx.AsyncClient, server: UvicornServer, keys: Keys
) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    async with open_stream(server.url, headers=keys.headers(b)) as sse:
        room = await dm(client, keys, a, b)
        await sse.until(lambda e: e.event == "room.created")
        await send(client, keys, a, room, "seen")
        last = await sse.until(lambda e: e.event == "message.created")
    for how in ("header", "query"):
        missed = [await send(client, keys, a, room, f"missed {how} {i}") for i in range(5)]
        assert last.id is not None
        headers = {**keys.headers(b), **({"Last-Event-ID": last.id} if how == "header" else {})}
        params = {"last_event_id": last.id} if how == "query" else {}
        async with open_stream(server.url, headers=headers, params=params) as sse:
            got = await sse.take(5)
            assert [e.data["message"]["id"] for e in got] == [m["id"] for m in missed], how
            ids = [e.id or "" for e in got]
            assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
            live = await send(client, keys, a, room, f"live {how}")
            after = await sse.next()
            assert after.data["message"]["id"] == live["id"]
            # Nothing replayed twice: the next event is the next message (a duplicate would come before it).
            marker = await send(client, keys, a, room, f"marker {how}")
            last = await sse.next()
            assert last.data["message"]["id"] == marker["id"]


async def test_unknown_last_event_id_yields_reset(
    state: State, client: httpx.AsyncClient, server: UvicornServer, keys: Keys
) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    async with open_stream(server.url, headers=keys.headers(b)) as sse:
        await send(client, keys, a, room, "x")
        await sse.until(lambda e: e.event == "message.created")
    for stale in ("1-0", "garbage"):
        async with open_stream(server.url, headers={**keys.headers(b), "Last-Event-ID": stale}) as sse:
            reset = await sse.next()
            assert reset.event == "reset" and reset.id
            live = await send(client, keys, a, room, "after reset")
            assert (await sse.next()).data["message"]["id"] == live["id"]


async def test_room_joined_while_connected_streams_without_reconnect(
    state: State, client: httpx.AsyncClient, server: UvicornServer, keys: Keys
) -> None:
    owner, joiner = new_user(), new_user()
    await befriend(state, owner, joiner)
    room = (
        await client.post(
            "/rooms", json={"type": "group", "name": "later", "member_ids": []}, headers=keys.headers(owner)
        )
    ).json()["id"]
    async with open_stream(server.url, headers=keys.headers(joiner)) as sse:
        await client.post(f"/rooms/{room}/members", json={"user_id": joiner}, headers=keys.headers(owner))
        joined = await sse.next()
        assert joined.event == "room.member_joined" and joined.data["user_id"] == joiner
        sent = await send(client, keys, owner, room, "welcome")
        assert (await sse.until(lambda e: e.event == "message.created")).data["message"]["id"] == sent["id"]


async def test_stream_metrics(state: State, client: httpx.AsyncClient, server: UvicornServer, keys: Keys) -> None:
    """A stream counts as open while it is, as closed by the client once it is, and a delivery's latency
    is observed."""
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    before = await scrape(client)
    async with open_stream(server.url, headers=keys.headers(b)) as sse:
        assert (await scrape(client)).only("chat_sse_streams_open") >= 1
        await send(client, keys, a, room, "timed")
        await sse.until(lambda e: e.event == "message.created")
    latency = "chat_message_delivery_latency_seconds_count"

    async def counted() -> bool:
        now = await scrape(client)
        return (
            now.value("chat_sse_streams_closed_total", reason="client")
            >= before.value("chat_sse_streams_closed_total", reason="client") + 1
            and now.only(latency) >= before.only(latency) + 1
        )

    await eventually(counted, "the closed stream and the delivery counted")
