"""CONTRACT §8, typing: 204 for a member, delivered to every other member's open streams on every process
as an ephemeral event (no ``id:``, never replayed, Last-Event-ID unaffected), debounced per user and room."""

from __future__ import annotations

import httpx

from app.core.state import State
from app.services.typing import DEBOUNCE_MS, debounce_key
from chat_shared.testing.metrics import scrape
from chat_shared.testing.sse import SSE, open_stream
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import UvicornServer, befriend, dm, new_user, send


async def _group(state: State, client: httpx.AsyncClient, keys: Keys, owner: int, *members: int) -> int:
    await befriend(state, owner, *members)
    response = await client.post(
        "/rooms", json={"type": "group", "name": "typing", "member_ids": list(members)}, headers=keys.headers(owner)
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _typing(sse: SSE) -> list[tuple[int, int]]:
    """The (room, user) of the typing events up to the next one, skipping stored events."""
    event = await sse.until(lambda e: e.event == "typing")
    assert event.id is None  # ephemeral: no id line
    return [(event.data["room_id"], event.data["user_id"])]


async def test_typing_reaches_the_other_members_on_every_process(
    state: State,
    client: httpx.AsyncClient,
    server: UvicornServer,
    other_server: UvicornServer,
    keys: Keys,
) -> None:
    typer, here, there = new_user(), new_user(), new_user()
    room = await _group(state, client, keys, typer, here, there)
    before = (await scrape(client)).value("chat_ephemeral_events_delivered_total", event="typing")
    async with (
        open_stream(server.url, headers=keys.headers(here)) as near,
        open_stream(other_server.url, headers=keys.headers(there)) as far,
        open_stream(other_server.url, headers=keys.headers(typer)) as own,
    ):
        response = await client.post(f"/rooms/{room}/typing", headers=keys.headers(typer))
        assert response.status_code == 204
        for sse in (near, far):
            event = await sse.until(lambda e: e.event == "typing")
            assert event.id is None
            assert event.data == {"room_id": room, "user_id": typer, "expires_in": 5}
        # The typer's own stream is not told; the next ephemeral event it gets is someone else's.
        await client.post(f"/rooms/{room}/typing", headers=keys.headers(here))
        assert (await own.until(lambda e: e.event == "typing")).data["user_id"] == here
    after = (await scrape(client)).value("chat_ephemeral_events_delivered_total", event="typing")
    assert after >= before + 3


async def test_a_repeat_within_two_seconds_is_answered_but_not_broadcast(
    state: State, client: httpx.AsyncClient, server: UvicornServer, keys: Keys
) -> None:
    a, b, c = new_user(), new_user(), new_user()
    room = await _group(state, client, keys, a, b, c)
    async with open_stream(server.url, headers=keys.headers(c)) as sse:
        for _ in range(3):
            assert (await client.post(f"/rooms/{room}/typing", headers=keys.headers(a))).status_code == 204
        ttl = await state.redis.pttl(debounce_key(room, a))
        assert 0 < ttl <= DEBOUNCE_MS
        # One channel carries every ephemeral event in order: b's typing comes after anything of a's.
        assert (await client.post(f"/rooms/{room}/typing", headers=keys.headers(b))).status_code == 204
        seen = await sse.collect_until(lambda e: e.event == "typing" and e.data["user_id"] == b)
        assert [e.data["user_id"] for e in seen if e.event == "typing"] == [a, b]


async def test_typing_is_for_members_only(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b, outsider = new_user(), new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    assert (await client.post(f"/rooms/{room}/typing", headers=keys.headers(a))).status_code == 204  # direct rooms too
    assert (await client.post(f"/rooms/{room}/typing", headers=keys.headers(outsider))).status_code == 403
    assert (await client.post("/rooms/999999999/typing", headers=keys.headers(a))).status_code == 404
    assert (await client.post(f"/rooms/{room}/typing")).status_code == 401


async def test_typing_is_never_replayed_and_leaves_last_event_id_alone(
    state: State, client: httpx.AsyncClient, server: UvicornServer, other_server: UvicornServer, keys: Keys
) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    async with open_stream(other_server.url, headers=keys.headers(b)) as sse:
        first = await send(client, keys, a, room, "one")
        created = await sse.until(lambda e: e.event == "message.created")
        assert created.data["message"]["id"] == first["id"] and created.id
        await client.post(f"/rooms/{room}/typing", headers=keys.headers(a))
        live = await sse.collect_until(lambda e: e.event == "typing")
        second = await send(client, keys, a, room, "two")
        live += await sse.collect_until(lambda e: e.event == "message.created")
        assert live[-1].data["message"]["id"] == second["id"]
        live = [e for e in live if e.event != "typing"]
    # Resuming after the first message replays what was stored after it (ids and all), nothing ephemeral.
    async with open_stream(server.url, headers={**keys.headers(b), "Last-Event-ID": created.id}) as resumed:
        replayed = await resumed.collect_until(lambda e: e.event == "message.created")
        assert [(e.event, e.id) for e in replayed] == [(e.event, e.id) for e in live]
        third = await send(client, keys, a, room, "three")
        following = await resumed.until(lambda e: e.event == "message.created")
        assert following.data["message"]["id"] == third["id"]
        resumed.assert_quiet()
