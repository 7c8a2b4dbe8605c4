"""The live log's size (real Redis): an event's body stored once, references per user, claims only for the
redelivery window, bodies capped, and a Redis full of the log itself making room by shedding its oldest."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import cast

import pytest
from redis.asyncio import Redis

from app.core.state import State
from app.stream.log import BODIES, DEDUPE_TTL_S, RESET_EVENT, Append, UserLog, channel, dedupe_key, stream_key
from chat_shared.redis import create_redis
from chat_shared.testing.redis_server import RedisServer
from tests.support import new_user

MESSAGE = '{"room_id":1,"message":{"id":"6650f0c2a1b2c3d4e5f60718","content":"' + "x" * 250 + '"}}'


def message(users: list[int], data: str = MESSAGE) -> Append:
    return Append(str(uuid.uuid4()), users, "message.created", data, 1.5)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of the test's own: the session app's fan-out writes the shared one's log meanwhile."""
    with RedisServer(maxmemory="32mb") as server:
        yield server


@pytest.fixture
async def redis(own_redis: RedisServer) -> AsyncIterator[Redis]:
    client = create_redis(own_redis.url())
    try:
        yield client
    finally:
        await client.aclose()


async def used_memory(redis: Redis) -> int:
    return int((await redis.info("memory"))["used_memory"])


async def test_an_event_is_stored_once_and_each_recipient_keeps_a_reference(redis: Redis) -> None:
    user_log = UserLog(redis)
    users = [new_user() for _ in range(20)]
    await user_log.append_many([message(users) for _ in range(5)])  # every user has a log
    before = await used_memory(redis)
    events = 200
    for _ in range(events // 50):
        assert all(await user_log.append_many([message(users) for _ in range(50)]))
    per_delivery = (await used_memory(redis) - before) / (events * len(users))
    # A copy of the message per recipient would be > 400 bytes each.
    assert per_delivery < 120, per_delivery
    assert await redis.xlen(BODIES) == events + 5
    entry_id, fields = cast(list[tuple[str, dict[str, str]]], await redis.xrevrange(stream_key(users[0]), count=1))[0]
    assert list(fields) == ["r"]
    assert (await user_log.after(users[0], "0-0", 1000))[-1] == (
        entry_id,
        {"e": "message.created", "d": MESSAGE, "t": "1.5"},
    )


async def test_an_event_id_stays_claimed_for_the_redelivery_window_only(state: State) -> None:
    append = message([new_user()])
    assert await UserLog(state.redis).append_many([append]) == [True]
    assert 0 < await state.redis.ttl(dedupe_key(append.event_id)) <= DEDUPE_TTL_S <= 15 * 60


async def test_an_entry_whose_body_is_gone_reads_as_one_reset_at_its_place(redis: Redis) -> None:
    user_log = UserLog(redis)
    user = new_user()
    assert all(await user_log.append_many([message([user], f'{{"n":{n}}}') for n in range(5)]))
    ids = [entry_id for entry_id, _ in await user_log.after(user, "0-0", 10)]
    bodies = cast(list[tuple[str, dict[str, str]]], await redis.xrange(BODIES))
    await redis.xdel(BODIES, *(body_id for body_id, _ in bodies[:3]))  # the oldest three

    entries = await user_log.after(user, "0-0", 10)
    assert [(i, f["e"]) for i, f in entries] == [
        (ids[2], RESET_EVENT),
        (ids[3], "message.created"),
        (ids[4], "message.created"),
    ]


async def test_the_bodies_are_capped(redis: Redis) -> None:
    user_log = UserLog(redis, max_events=150)
    user = new_user()
    for _ in range(4):
        await user_log.append_many([message([user]) for _ in range(100)])
    # Trimmed by whole nodes of 100 entries: never more than one node over the cap.
    assert 150 <= await redis.xlen(BODIES) <= 250
    entries = await user_log.after(user, "0-0", 1000)
    assert entries[0][1]["e"] == RESET_EVENT  # the user's older entries lost their bodies: a reset first
    assert all(fields["e"] == "message.created" for _, fields in entries[1:])


async def test_a_redis_full_of_the_log_sheds_its_oldest_bodies_and_keeps_appending() -> None:
    with RedisServer(maxmemory="8mb") as server:
        redis = create_redis(server.url())
        pubsub = redis.pubsub()
        try:
            user_log = UserLog(redis, max_events=1_000_000)
            users = [new_user() for _ in range(3)]
            await pubsub.subscribe(*(channel(u) for u in users))
            big = '{"content":"' + "x" * 4000 + '"}'
            high = 0
            for _ in range(100):  # ≈ 12 MB of bodies into 8 MB
                assert all(await user_log.append_many([message(users, big) for _ in range(30)]))
                length = await redis.xlen(BODIES)
                if length < high:
                    break  # the oldest bodies were shed
                high = length
            else:
                pytest.fail("the log never filled Redis")
            resets = []
            while (item := await pubsub.get_message(timeout=0.01)) is not None:
                if item["type"] == "message" and item["data"] == "reset":
                    resets.append(item)
            assert resets == []  # nobody lost an event: only old history went
        finally:
            await pubsub.aclose()
            await redis.aclose()
