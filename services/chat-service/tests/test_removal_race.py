"""CONTRACT §8: someone removed from a room stops receiving its events at once — 50 sends racing with the
removal, and the removed member's stream holds no message of the room sent after the removal, even those
whose fan-out batch was already under way."""

from __future__ import annotations

import asyncio
import time

import httpx

from app.core.state import State
from chat_shared.testing.sse import open_stream
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import UvicornServer, befriend, dm, new_user, send

SENDS = 50
WORKERS = 5


async def test_no_message_after_the_removal_reaches_the_removed_member(
    state: State, client: httpx.AsyncClient, server: UvicornServer, keys: Keys
) -> None:
    owner, sender, victim, watcher, pal = (new_user() for _ in range(5))
    await befriend(state, owner, sender, victim, watcher)
    created = await client.post(
        "/rooms",
        json={"type": "group", "name": "race", "member_ids": [sender, victim, watcher]},
        headers=keys.headers(owner),
    )
    room = created.json()["id"]
    await befriend(state, pal, victim)
    side = await dm(client, keys, pal, victim)
    # (started, seq) of every send, on one clock, to bound the removal's place among the seqs.
    sends: list[tuple[float, int]] = []
    removal: dict[str, float] = {}
    halfway = asyncio.Event()

    async def worker(n: int) -> None:
        for i in range(SENDS // WORKERS):
            started = time.monotonic()
            message = await send(client, keys, sender, room, f"{n}-{i}")
            sends.append((started, message["seq"]))
            if len(sends) >= SENDS // 3:
                halfway.set()

    async def remove() -> None:
        await halfway.wait()
        response = await client.delete(f"/rooms/{room}/members/{victim}", headers=keys.headers(owner))
        removal["finished"] = time.monotonic()
        assert response.status_code == 204, response.text

    async with (
        open_stream(server.url, headers=keys.headers(victim)) as victim_sse,
        open_stream(server.url, headers=keys.headers(watcher)) as watcher_sse,
    ):
        await asyncio.gather(remove(), *(worker(n) for n in range(WORKERS)))
        # Every send has been fanned out once the watcher has all of them; a message of another room sent
        # after that is the last thing the removed member's log gets, so their stream is complete before it.
        seen: set[int] = set()
        while len(seen) < SENDS:
            event = await watcher_sse.until(lambda e: e.event == "message.created" and e.data["room_id"] == room)
            seen.add(event.data["message"]["seq"])
        marker = await send(client, keys, pal, side, "after the race")
        events = await victim_sse.collect_until(
            lambda e: e.event == "message.created" and e.data["message"]["id"] == marker["id"]
        )

    received = [e.data["message"]["seq"] for e in events if e.event == "message.created" and e.data["room_id"] == room]
    left = [i for i, e in enumerate(events) if e.event == "room.member_left" and e.data["room_id"] == room]
    assert len(left) == 1 and events[left[0]].data["removed_by"] == owner
    assert not [e for e in events[left[0] :] if e.event.startswith("message.") and e.data["room_id"] == room]
    # A send begun after the removal committed has a higher seq than the removal: never delivered to them.
    # (One committed before it may be withheld too, when its fan-out batch started after the removal:
    # removal wins.) What they did get is a prefix of the room's messages, without a gap.
    after = min(seq for started, seq in sends if started > removal["finished"])
    assert sorted(received) == list(range(1, len(received) + 1))
    assert len(received) < after
    assert (await client.get(f"/rooms/{room}/messages", headers=keys.headers(victim))).status_code == 403
