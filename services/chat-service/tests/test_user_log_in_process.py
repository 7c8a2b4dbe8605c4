"""The per-user log on make dev's in-process Redis (fakeredis with its Lua runtime): the very script that
runs on Redis, just as atomic, so the stream code has no second path."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.stream.log import Append, UserLog, channel, parse_wake_up
from chat_shared.redis import create_redis
from tests.support import new_user


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = create_redis("fakeredis://", "chat-service")
    try:
        yield client
    finally:
        await client.aclose()


async def test_a_redelivered_batch_appends_only_what_is_missing(redis: Redis) -> None:
    user_log = UserLog(redis)
    a, b = new_user(), new_user()
    events = [Append(str(uuid.uuid4()), [a, b], "message.created", f'{{"n":{n}}}', 1.0) for n in range(5)]
    assert await user_log.append_many(events[:2]) == [True, True]
    assert await user_log.append(*events[0]) is False
    assert await user_log.append_many(events) == [False, False, True, True, True]
    for user in (a, b):
        entries = await user_log.after(user, "0-0", 100)
        assert [fields["d"] for _, fields in entries] == [f'{{"n":{n}}}' for n in range(5)]


async def test_concurrent_appends_each_see_the_entry_before_their_own(redis: Redis) -> None:
    """Each wake-up names the entry just before its own: reading the last id and adding the next one happen
    as one step, even with many appends in flight (interleaved steps would repeat a ``prev``)."""
    user_log = UserLog(redis)
    a, b = new_user(), new_user()
    appends = 40
    pubsub = redis.pubsub()
    await pubsub.subscribe(channel(a), channel(b))
    try:
        results = await asyncio.gather(
            *(
                user_log.append(str(uuid.uuid4()), [a, b], "message.created", f'{{"n":{n}}}', 1.0)
                for n in range(appends)
            )
        )
        assert all(results)
        wake_ups: dict[str, list[tuple[str, str]]] = {channel(a): [], channel(b): []}
        while sum(map(len, wake_ups.values())) < 2 * appends:
            message = await pubsub.get_message(timeout=10)
            assert message is not None, "a wake-up did not arrive"
            if message["type"] != "message":
                continue  # the subscriptions' confirmations
            wake_up = parse_wake_up(message["data"])
            assert wake_up is not None
            wake_ups[message["channel"]].append((wake_up.prev, wake_up.entry[0]))
    finally:
        await pubsub.aclose()
    for user in (a, b):
        ids = [entry_id for entry_id, _ in await user_log.after(user, "0-0", 100)]
        assert len(ids) == appends
        assert sorted(wake_ups[channel(user)], key=lambda pair: ids.index(pair[1])) == list(
            zip(["0-0", *ids[:-1]], ids, strict=True)
        )
