"""Who gets a push for a message (CONTRACT §10), end to end: events in through the real broker, decisions in
the real database and Redis, pushes out to a local Web Push service that decrypts them with each
subscription's own private key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from app.core.state import State
from chat_shared.events.chat import NotifyLevel
from chat_shared.testing.clock import ManualClock
from chat_shared.testing.waiting import eventually
from tests.fakes.push_receiver import PushReceiver
from tests.helpers import World


async def settled(world: World) -> None:
    """Every queued push due now has been sent (or re-queued for later)."""

    async def empty() -> bool:
        rows = await world.queued()
        return (
            all(r.due_at.timestamp() > world.state.pushes.clock() for r in rows) and world.state.pushes._in_flight == 0
        )

    await eventually(empty, "the due pushes to be sent")


async def test_an_offline_member_gets_one_push_with_the_contract_payload(
    client: httpx.AsyncClient, world: World, receiver: PushReceiver
) -> None:
    alice, bob = await world.people(2)
    room = await world.room([alice, bob])
    browser = await world.subscribe(client, bob)

    message = await world.send(room, alice, "안녕하세요 " + "x" * 200)

    await eventually(lambda: receiver.of(browser), "bob's push")
    assert receiver.of(browser) == [
        {
            "room_id": room,
            "message_id": message.id,
            "seq": message.seq,
            "sender": {"id": alice.id, "display_name": alice.name},
            "preview": message.content[:100] if message.content else None,
            "count": 1,
        }
    ]
    headers = receiver.received[0].headers
    assert headers["urgency"] == "high" and headers["topic"] == f"room-{room}" and int(headers["ttl"]) > 0


async def test_pushes_collapse_to_one_per_window_with_a_count(
    client: httpx.AsyncClient, world: World, receiver: PushReceiver, clock: ManualClock, state: State
) -> None:
    alice, bob = await world.people(2)
    room = await world.room([alice, bob])
    browser = await world.subscribe(client, bob)

    await world.send(room, alice, "one")
    await eventually(lambda: receiver.of(browser), "the first push")
    for text in ("two", "three", "four"):
        last = await world.send(room, alice, text)
    await eventually(lambda: _count_queued(world, 3), "the three messages to fold into one waiting push")
    await settled(world)
    assert len(receiver.of(browser)) == 1  # the window holds them back

    clock.advance(10)
    state.pushes.wake()
    await eventually(lambda: len(receiver.of(browser)) == 2, "the collapsed push at the window's end")
    second = receiver.of(browser)[1]
    assert second["count"] == 3 and second["message_id"] == last.id and second["preview"] == "four"


async def _count_queued(world: World, count: int) -> bool:
    rows = await world.queued()
    return len(rows) == 1 and rows[0].count == count


async def test_online_muted_sender_and_blockers_get_nothing(
    client: httpx.AsyncClient, world: World, receiver: PushReceiver
) -> None:
    sender, offline, online, muted, blocker, unmuted = await world.people(6)
    room = await world.room([sender, offline, online, muted, blocker, unmuted])
    await world.set_online(online, True)
    await world.settings(room, muted, NotifyLevel.ALL, muted_until=datetime.now(UTC) + timedelta(hours=1))
    await world.settings(room, unmuted, NotifyLevel.ALL, muted_until=datetime.now(UTC) - timedelta(hours=1))
    await world.block(blocker, sender)
    names = {p.id: await world.subscribe(client, p) for p in (sender, offline, online, muted, blocker, unmuted)}

    await world.send(room, sender, "hi all")

    await eventually(lambda: receiver.of(names[offline.id]) and receiver.of(names[unmuted.id]), "the offline pushes")
    await settled(world)
    assert {r.name for r in receiver.received} == {names[offline.id], names[unmuted.id]}


async def test_mentions_only_and_none(client: httpx.AsyncClient, world: World, receiver: PushReceiver) -> None:
    sender, picky, silent = await world.people(3)
    room = await world.room([sender, picky, silent])
    await world.settings(room, picky, NotifyLevel.MENTIONS)
    await world.settings(room, silent, NotifyLevel.NONE)
    picky_b, silent_b = await world.subscribe(client, picky), await world.subscribe(client, silent)

    await world.send(room, sender, "not for you")
    mention = await world.send(room, sender, f"@p{picky.id} look", mentions=[picky.id, silent.id])

    await eventually(lambda: receiver.of(picky_b), "the mention's push")
    await settled(world)
    assert [p["message_id"] for p in receiver.of(picky_b)] == [mention.id]
    assert receiver.of(silent_b) == []


async def test_show_preview_false_hides_the_text(
    client: httpx.AsyncClient, world: World, receiver: PushReceiver
) -> None:
    alice, bob = await world.people(2)
    room = await world.room([alice, bob])
    browser = await world.subscribe(client, bob)
    assert (
        await client.put("/notifications/preferences", json={"show_preview": False}, headers=bob.headers)
    ).status_code == 200

    await world.send(room, alice, "secret plans")

    await eventually(lambda: receiver.of(browser), "bob's push")
    assert receiver.of(browser)[0]["preview"] is None
    assert b"secret" not in str(receiver.received[0].headers).encode()


async def test_every_subscription_of_a_user_gets_the_push(
    client: httpx.AsyncClient, world: World, receiver: PushReceiver, fcm_server: object
) -> None:
    alice, bob = await world.people(2)
    room = await world.room([alice, bob])
    laptop, phone = await world.subscribe(client, bob), await world.subscribe(client, bob)

    await world.send(room, alice, "hello")

    await eventually(lambda: receiver.of(laptop) and receiver.of(phone), "both browsers' pushes")
