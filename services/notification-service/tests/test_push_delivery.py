"""What push services answer, and what that does: 404/410 delete the subscription, 429/5xx are retried
(after ``Retry-After``) while every other push goes at once, FCM through its HTTP v1 API, and a replayed
event sends nothing twice."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from app.core.state import State
from app.models.subscription import Subscription
from chat_shared.events.chat import MessageSent
from chat_shared.events.envelope import EventEnvelope
from chat_shared.testing.clock import ManualClock
from chat_shared.testing.waiting import eventually
from tests.fakes.fcm_server import FcmServer
from tests.fakes.push_receiver import PushReceiver
from tests.helpers import World, snapshot


async def subscription_ids(state: State, user_id: int) -> list[int]:
    async with state.sessionmaker() as session:
        return list(await session.scalars(select(Subscription.id).where(Subscription.user_id == user_id)))


async def test_gone_subscriptions_are_deleted(
    client: httpx.AsyncClient, world: World, receiver: PushReceiver, state: State
) -> None:
    alice, bob = await world.people(2)
    room = await world.room([alice, bob])
    dead, alive = await world.subscribe(client, bob), await world.subscribe(client, bob)
    receiver.browsers[dead].always = 410

    await world.send(room, alice, "hello")

    await eventually(lambda: receiver.of(alive), "the live browser's push")
    await eventually(lambda: _one_left(state, bob.id), "the gone subscription to be deleted")
    listed = (await client.get("/notifications/subscriptions", headers=bob.headers)).json()["items"]
    assert len(listed) == 1
    assert await world.queued() == []


async def _one_left(state: State, user_id: int) -> bool:
    return len(await subscription_ids(state, user_id)) == 1


async def test_a_failing_push_service_is_retried_without_delaying_others(
    client: httpx.AsyncClient, world: World, receiver: PushReceiver, state: State, clock: ManualClock
) -> None:
    alice, bob, carol = await world.people(3)
    room = await world.room([alice, bob, carol])
    flaky, healthy = await world.subscribe(client, bob), await world.subscribe(client, carol)
    receiver.browsers[flaky].answers = [503, 503]
    receiver.browsers[flaky].answer_headers = {"Retry-After": "30"}

    await world.send(room, alice, "hello")

    await eventually(lambda: receiver.of(healthy), "the healthy push service's push")
    await eventually(lambda: receiver.attempts.get(flaky) == 1, "the first attempt at the failing one")

    async def rescheduled() -> Any:
        # The receiver counts the attempt when it answers; the dispatcher records the retry just after.
        [queued] = await world.queued(user_id=bob.id)
        assert queued.status == "retry" and queued.attempts == 1
        return queued

    waiting = await eventually(rescheduled, "the failed push rescheduled")
    # Retry-After is honoured: not before 30 s, whatever the backoff says.
    assert waiting.due_at.timestamp() >= clock.now + 29

    clock.advance(31)
    state.pushes.wake()
    await eventually(lambda: receiver.attempts.get(flaky) == 2, "the second attempt")
    clock.advance(31)
    state.pushes.wake()
    await eventually(lambda: receiver.of(flaky), "the push once the service recovers")
    assert len(receiver.of(flaky)) == 1 and len(receiver.of(healthy)) == 1


async def test_fcm_subscriptions_get_data_messages_and_dead_tokens_are_deleted(
    client: httpx.AsyncClient, world: World, fcm_server: FcmServer, state: State
) -> None:
    alice, bob = await world.people(2)
    room = await world.room([alice, bob])
    live_token, dead_token = f"live_{bob.id}_" + "a" * 30, f"dead_{bob.id}_" + "b" * 30
    for token in (live_token, dead_token):
        r = await client.post("/notifications/subscriptions", json={"type": "fcm", "token": token}, headers=bob.headers)
        assert r.status_code == 201

    message = await world.send(room, alice, "from the app")

    def delivered() -> list[dict[str, Any]]:
        return [m for m in fcm_server.messages if m["token"] == live_token]

    await eventually(delivered, "the FCM message")
    import json

    data = json.loads(delivered()[0]["data"]["notification"])
    assert data["message_id"] == message.id and data["count"] == 1 and data["preview"] == "from the app"
    assert delivered()[0]["android"] == {"priority": "high", "collapse_key": f"room-{room}"}
    await eventually(lambda: _one_left(state, bob.id), "the dead token's subscription to be deleted")


async def test_a_replayed_message_event_pushes_nothing_twice(
    client: httpx.AsyncClient, world: World, receiver: PushReceiver, state: State, clock: ManualClock
) -> None:
    alice, bob, carol = await world.people(3)
    room = await world.room([alice, bob, carol])
    browser = await world.subscribe(client, bob)
    event = MessageSent.of(snapshot(room, 1, alice.id, "once"))
    envelope = EventEnvelope.of(event, "chat-service")

    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=world.bootstrap, acks="all")
    await producer.start()
    try:
        for _ in range(3):  # the relay published it, crashed before marking it, published it again …
            await producer.send_and_wait(event.topic, envelope.model_dump_json().encode(), key=str(room).encode())
    finally:
        await producer.stop()
    await eventually(lambda: receiver.of(browser), "the push")
    # A later message in the same room shows the duplicates were consumed (same partition, in order).
    later = await world.send(room, carol, "later")
    await eventually(lambda: world.queued(user_id=bob.id), "the later message's push to wait for the window")
    clock.advance(10)
    state.pushes.wake()
    await eventually(lambda: len(receiver.of(browser)) == 2, "the later message's push")
    first, second = receiver.of(browser)
    assert first["message_id"] == event.message.id and first["count"] == 1
    assert second["message_id"] == later.id and second["count"] == 1
