"""The live stream across a Redis restart, on a redis-server of the test's own: open streams stay open and
catch up from their last delivered entry once the hub's subscription is back, including entries whose
wake-up no process received; a Redis that came back without its data sends ``reset``; the hub's
subscription is re-opened by the hub alone, with every channel a stream here still needs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app.stream import subscription as subscription_module
from app.stream.hub import Connection, StreamHub
from app.stream.log import Append, UserLog, channel, id_tuple
from app.stream.subscription import NotSubscribed
from chat_shared.redis import create_redis
from chat_shared.testing.redis_server import RedisServer
from chat_shared.testing.waiting import eventually
from tests.support import new_user


class Device:
    """The client end of one stream: the SSE ids and events it was written."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, str]] = []
        self.ended = False

    async def send(self, message: dict[str, Any]) -> None:
        if not message.get("more_body"):
            self.ended = True
        for block in message["body"].decode().split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line and line[0] != ":")
            if "id" in fields:
                self.frames.append((fields["id"], fields["event"]))


async def open_local_stream(hub: StreamHub, user_id: int) -> tuple[Connection, Device]:
    """What the endpoint does for a stream without ``Last-Event-ID``: subscribed, live from the log's end."""
    device = Device()
    conn = hub.new_connection(user_id, device.send)
    await hub.register(conn)
    conn.last_id = await hub.log.latest_id(user_id)
    await hub.pump(conn)
    return conn, device


async def append(user_log: UserLog, user_id: int, n: int) -> str:
    """One event in the user's log (as the fan-out appends it, wake-up included); its entry id."""
    await user_log.append_many([Append(f"restart-{user_id}-{n}", [user_id], "message.created", f'{{"n":{n}}}', 1.0)])
    return await user_log.latest_id(user_id)


async def append_once_up(user_log: UserLog, user_id: int, n: int) -> str:
    """Append as soon as the restarted Redis takes writes (it refuses them while it loads its file)."""

    async def attempt() -> str | None:
        try:
            return await append(user_log, user_id, n)
        except Exception:
            return None

    return await eventually(attempt, "the restarted Redis to take an append", interval=0.01)


@pytest.fixture
async def hub_on_own_redis(tmp_path: Path) -> AsyncIterator[tuple[RedisServer, StreamHub, UserLog]]:
    """A started hub on a redis-server with an append-only file, and the fan-out's own client of it."""
    with RedisServer(data_dir=tmp_path) as server:
        redis, fanout_redis = create_redis(server.url()), create_redis(server.url())
        hub = StreamHub(redis, UserLog(redis), heartbeat_s=15, max_lifetime_s=3600)
        await hub.start()
        try:
            await eventually(lambda: hub.live, "the hub's subscription")
            yield server, hub, UserLog(fanout_redis)
        finally:
            await hub.stop()
            await redis.aclose()
            await fanout_redis.aclose()


async def subscribers(redis: Redis, user_id: int) -> int:
    """How many connections Redis would deliver the user's wake-ups to."""
    counts: Any = await redis.pubsub_numsub(channel(user_id))
    return int(counts[0][1])


async def test_an_entry_whose_wake_up_was_published_while_the_hub_was_away_reaches_the_open_stream(
    hub_on_own_redis: tuple[RedisServer, StreamHub, UserLog], monkeypatch: Any
) -> None:
    server, hub, fanout = hub_on_own_redis
    user = new_user()
    conn, device = await open_local_stream(hub, user)
    first = await append(fanout, user, 1)
    await eventually(lambda: conn.last_id == first, "the first entry delivered live")

    # The hub tries to subscribe again only seconds after each failure: the test appends in between.
    monkeypatch.setattr(subscription_module, "RETRY_MIN_S", 3.0)
    monkeypatch.setattr(subscription_module, "RETRY_MAX_S", 3.0)
    await asyncio.to_thread(server.stop)
    await eventually(lambda: not hub.live, "the hub to notice Redis is gone")
    await asyncio.to_thread(server.start)
    second = await append_once_up(fanout, user, 2)
    # Its wake-up reached no one: no process was subscribed to the user's channel when it was published.
    assert await subscribers(fanout.redis, user) == 0

    await eventually(lambda: conn.last_id == second, "the entry appended during the break delivered")
    assert conn.closed is None and not device.ended  # the stream stayed open across the break
    assert device.frames == [(first, "message.created"), (second, "message.created")]
    third = await append(fanout, user, 3)
    await eventually(lambda: conn.last_id == third, "live again")
    assert await subscribers(fanout.redis, user) == 1


async def test_a_stream_whose_position_the_restarted_redis_lost_is_reset() -> None:
    with RedisServer() as server:  # keeps nothing across a restart
        redis, fanout_redis = create_redis(server.url()), create_redis(server.url())
        hub = StreamHub(redis, UserLog(redis), heartbeat_s=15, max_lifetime_s=3600)
        fanout = UserLog(fanout_redis)
        await hub.start()
        try:
            await eventually(lambda: hub.live, "the hub's subscription")
            user = new_user()
            conn, device = await open_local_stream(hub, user)
            first = await append(fanout, user, 1)
            await eventually(lambda: conn.last_id == first, "the first entry delivered live")

            await asyncio.to_thread(server.stop)
            await eventually(lambda: not hub.live, "the hub to notice Redis is gone")
            await asyncio.to_thread(server.start)
            await eventually(lambda: hub.live, "the hub's subscription back")
            await eventually(lambda: any(event == "reset" for _, event in device.frames), "a reset")
            later = await append_once_up(fanout, user, 2)
            await eventually(lambda: conn.last_id == later, "live again after the reset")
            assert [event for _, event in device.frames] == ["message.created", "reset", "message.created"]
            assert conn.closed is None
        finally:
            await hub.stop()
            await redis.aclose()
            await fanout_redis.aclose()


async def test_a_user_whose_stream_changed_during_the_break_is_subscribed_once_it_is_over(
    hub_on_own_redis: tuple[RedisServer, StreamHub, UserLog],
) -> None:
    """A stream that closes while Redis is away and the same user's next one, opened as it comes back:
    the hub never sends an UNSUBSCRIBE that could land after the new stream's SUBSCRIBE."""
    server, hub, fanout = hub_on_own_redis
    user = new_user()
    old, _ = await open_local_stream(hub, user)

    await asyncio.to_thread(server.stop)
    await eventually(lambda: not hub.live, "the hub to notice Redis is gone")
    await hub.close(old, "client")
    await hub.unregister(old, "client")
    with pytest.raises(NotSubscribed):  # what the endpoint answers 503 for
        await open_local_stream(hub, user)
    await asyncio.to_thread(server.start)
    await eventually(lambda: hub.live, "the hub's subscription back")

    new, _ = await open_local_stream(hub, user)
    entry = await append_once_up(fanout, user, 1)
    assert await subscribers(fanout.redis, user) == 1
    await eventually(lambda: new.last_id == entry, "the new stream woken")


async def test_many_streams_opening_and_closing_across_a_restart_all_end_at_their_logs_end(
    hub_on_own_redis: tuple[RedisServer, StreamHub, UserLog],
) -> None:
    """Streams churn and entries are appended right through the restart; afterwards every open stream has
    delivered its whole log, with nothing after the last append to wake it."""
    server, hub, fanout = hub_on_own_redis
    users = [new_user() for _ in range(12)]
    streams: dict[int, tuple[Connection, Device]] = {u: await open_local_stream(hub, u) for u in users}

    async def churn(user_id: int) -> None:
        for n in range(40):
            if n % 5 == 0:  # the client's stream ends and it opens another (refused while Redis is away)
                if (stream := streams.pop(user_id, None)) is not None:
                    await hub.close(stream[0], "client")
                    await hub.unregister(stream[0], "client")
                with contextlib.suppress(Exception):  # Redis away, or its subscription not back yet
                    streams[user_id] = await open_local_stream(hub, user_id)
            with contextlib.suppress(Exception):  # Redis away: the fan-out retries the event later
                await append(fanout, user_id, n)
            await asyncio.sleep(0.02)

    async def restart() -> None:
        await asyncio.sleep(0.2)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(0.3)
        await asyncio.to_thread(server.start)

    await asyncio.gather(restart(), *(churn(u) for u in users))
    await eventually(lambda: hub.live, "the hub's subscription back")
    for user in users:  # a stream that could not reopen during the break does so now
        if user not in streams or streams[user][0].closed:
            streams[user] = await open_local_stream(hub, user)
    for user in users:
        last = await fanout.latest_id(user)
        conn, device = streams[user]

        def at_end(conn: Connection = conn, last: str = last) -> bool:
            return conn.last_id == last

        await eventually(at_end, f"user {user}'s stream at its log's end")
        assert conn.closed is None
        ids = [id_tuple(entry_id) for entry_id, _ in device.frames]
        assert ids == sorted(set(ids))  # in order, each once
