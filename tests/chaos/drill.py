"""The chaos drill (CHAT-1): many clients send through the gateway to two chat-service processes while the
controller breaks processes and stores; then nothing acknowledged may be lost, doubled or out of order.

Phases: set up (users, friendships, one room of everyone and one room per five users; every client opens
its stream and waits for ``: connected``) → send under chaos (each client sends ``sends`` messages over its
two rooms, retrying each with its ``client_msg_id`` until acknowledged) → converge (every acknowledged
message reached every member's stream) → resume (every stream reconnects with ``Last-Event-ID``, each room
owner sends a marker, and each stream reads up to its markers: a replay would have shown a duplicate
before them) → check (:mod:`verdict`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from chaos import Chaos, Plan
from clients import Member, Recorder, follow_stream, history, send_all, send_one
from e2e_helpers import Api
from stack import Stack

from chat_shared.testing.waiting import eventually

T = TypeVar("T")
GROUP_SIZE = 5
CONVERGE_TIMEOUT_S = 240.0  # a killed consumer's partitions wait for its group session to expire


@dataclass
class Rooms:
    """The drill's rooms: id -> (owner index, member indexes)."""

    members: dict[int, list[int]] = field(default_factory=dict)
    owners: dict[int, int] = field(default_factory=dict)


@dataclass
class Run:
    """What one drill run did and saw; :mod:`verdict` judges it."""

    members: list[Member]
    rooms: Rooms
    recorder: Recorder
    chaos: Chaos
    histories: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    sends_ended: float = 0.0
    #: Phase -> what had not reached the streams when it timed out: user id -> (missing, of them in the log).
    stalled: dict[str, dict[int, tuple[list[str], int]]] = field(default_factory=dict)
    unpublished: dict[str, Any] = field(default_factory=dict)  # phase -> chat outbox rows left at its time-out
    fanout_lag: dict[str, Any] = field(default_factory=dict)  # phase -> partition -> events behind
    positions: dict[str, dict[int, str]] = field(default_factory=dict)  # phase -> user -> stream vs log


async def _bounded(items: Iterable[Awaitable[T]], limit: int = 4) -> list[T]:
    """Await ``items`` at most ``limit`` at a time (registration hashes passwords: a pool, not a flood)."""
    gate = asyncio.Semaphore(limit)

    async def one(item: Awaitable[T]) -> T:
        async with gate:
            return await item

    return list(await asyncio.gather(*(one(i) for i in items)))


async def _group(api: Api, owner: Member, others: list[Member], name: str) -> int:
    async def create() -> int | None:
        body = {"type": "group", "name": name, "member_ids": [m.user_id for m in others]}
        r = await api.client.post("/api/rooms", json=body, headers=owner.auth)
        if r.status_code == 403:  # the friendships have not reached chat-service yet
            return None
        assert r.status_code in (200, 201), r.text
        return int(r.json()["id"])

    return await eventually(create, f"chat-service to let {name} be created", timeout=60)


async def set_up(client: httpx.AsyncClient, clients: int) -> tuple[list[Member], Rooms]:
    """Users, friendships and rooms: everyone in room 0 (owned by user 0), and one room per five users."""
    api = Api(client)
    users = await _bounded(api.new_user("chaos") for _ in range(clients))
    members = [Member(u.id, u.token) for u in users]
    owners = {0: list(range(1, clients))}
    for first in range(GROUP_SIZE, clients, GROUP_SIZE):
        owners[first] = list(range(first + 1, min(first + GROUP_SIZE, clients)))
    pairs = sorted({(o, m) for o, ms in owners.items() for m in ms})
    await _bounded(api.befriend(users[o], users[m]) for o, m in pairs)
    rooms = Rooms()
    plans = [(0, list(range(clients)))] + [
        (first, list(range(first, min(first + GROUP_SIZE, clients)))) for first in range(0, clients, GROUP_SIZE)
    ]
    for number, (owner, indexes) in enumerate(plans):
        others = [members[i] for i in indexes if i != owner]
        room_id = await _group(api, members[owner], others, f"chaos room {number}")
        rooms.members[room_id], rooms.owners[room_id] = indexes, owner
        for i in indexes:
            members[i].rooms.append(room_id)
    return members, rooms


async def _until(check: Callable[[], bool], what: str, timeout: float) -> float:
    """Poll ``check`` until it holds; the seconds it took."""
    started = time.monotonic()
    await eventually(check, what, timeout=timeout, interval=0.2)
    return time.monotonic() - started


def _missing(members: list[Member], rooms: Rooms) -> dict[int, list[str]]:
    """Per user, the acknowledged messages of its rooms its stream has not delivered."""
    acked = {room: [a.client_msg_id for m in members for a in m.acks if a.room_id == room] for room in rooms.members}
    out = {m.user_id: [c for room in m.rooms for c in acked[room] if m.delivered[c] == 0] for m in members}
    return {user: missing for user, missing in out.items() if missing}


async def _converge(result: Run, stack: Stack, phase: str) -> None:
    """Wait until every acknowledged message reached every member's stream; on a time-out, record what is
    missing and how much of it the users' logs in Redis hold (the fan-out did its part, the stream not)."""
    try:
        result.timings[f"{phase}_s"] = await _until(
            lambda: not _missing(result.members, result.rooms),
            f"{phase}: every message on every stream",
            CONVERGE_TIMEOUT_S,
        )
    except AssertionError:
        missing = _missing(result.members, result.rooms)
        result.stalled[phase] = {user: (ids, await _in_log(stack, user, ids)) for user, ids in missing.items()}
        by_id = {m.user_id: m for m in result.members}
        result.positions[phase] = {
            user: f"stream at {by_id[user].last_id} after {by_id[user].connects} connects, log at "
            f"{await _latest(stack, user)}"
            for user in missing
        }
        for diagnose, into in ((_unpublished, result.unpublished), (_fanout_lag, result.fanout_lag)):
            try:
                into[phase] = await diagnose(stack)
            except Exception as exc:  # a diagnosis that fails must not hide the finding
                into[phase] = repr(exc)[:200]


async def _latest(stack: Stack, user_id: int) -> str:
    from redis.asyncio import Redis

    redis = Redis.from_url(stack.redis.url, decode_responses=True)
    try:
        entries: Any = await redis.xrevrange(f"stream:user:{user_id}", count=1)
    finally:
        await redis.aclose()
    return str(entries[0][0]) if entries else "0-0"


async def _fanout_lag(stack: Stack) -> dict[str, int]:
    """Per partition of the fan-out's topics, the events past the fan-out group's committed offset (read
    through a consumer of the group that joins nothing: Tansu does not answer the admin offsets request)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.broker.bootstrap, group_id="chat-service.fanout", enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in ("message.events", "chat.events")
            for p in consumer.partitions_for_topic(topic) or ()
        ]
        ends = await consumer.end_offsets(partitions)
        lags = {f"{tp.topic}/{tp.partition}": ends[tp] - (await consumer.committed(tp) or 0) for tp in partitions}
    finally:
        await consumer.stop()
    return {name: lag for name, lag in lags.items() if lag}


async def _unpublished(stack: Stack) -> int:
    """Outbox rows of chat-service not yet published to the broker."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(stack.system.backends.database_url(stack.chat_spec))
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(text("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"))
    finally:
        await engine.dispose()
    return int(count or 0)


async def _in_log(stack: Stack, user_id: int, client_msg_ids: list[str]) -> int:
    """How many of the messages are in the user's log (the Redis stream the fan-out appends to)."""
    from redis.asyncio import Redis

    redis = Redis.from_url(stack.redis.url, decode_responses=True)
    try:
        entries: Any = await redis.xrange(f"stream:user:{user_id}")
    finally:
        await redis.aclose()
    text = " ".join(str(fields.get("d", "")) for _, fields in entries or ())
    return sum(f'"client_msg_id":"{c}"' in text for c in client_msg_ids)


def _streams(client: httpx.AsyncClient, members: list[Member], recorder: Recorder) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(follow_stream(client, m, recorder)) for m in members]


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run(stack: Stack, clients: int, sends: int, interval_s: float, plan: Plan) -> Run:
    """One drill run on a started stack."""
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=30.0, trust_env=False, limits=limits) as client:
        t0 = time.monotonic()
        members, rooms = await set_up(client, clients)
        recorder = Recorder()
        result = Run(members, rooms, recorder, Chaos(stack, plan))
        streams = _streams(client, members, recorder)
        await _until(lambda: all(m.connects for m in members), "every stream to connect", 60)
        result.timings["setup_s"] = time.monotonic() - t0

        t1 = time.monotonic()
        sends_done = asyncio.Event()
        chaos = asyncio.create_task(result.chaos.run(sends_done))
        senders = [asyncio.create_task(send_all(client, m, sends, interval_s, recorder)) for m in members]
        await asyncio.gather(*senders)
        result.sends_ended = time.monotonic()
        result.timings["send_s"] = result.sends_ended - t1
        sends_done.set()
        await chaos

        await _converge(result, stack, "converge")
        await _cancel(streams)

        # Resume: every stream reconnects with Last-Event-ID; a marker per room closes the replay.
        streams = _streams(client, members, recorder)
        before = [m.connects for m in members]
        await _until(lambda: all(m.connects > b for m, b in zip(members, before, strict=True)), "resumes", 60)
        for room_id, owner in rooms.owners.items():
            await send_one(client, members[owner], room_id, f"marker-{room_id}", recorder)
        await _converge(result, stack, "resume")
        await _cancel(streams)

        owner_of = {room: members[owner] for room, owner in rooms.owners.items()}
        for room_id, owner in owner_of.items():
            result.histories[room_id] = await history(client, owner, room_id)
        result.timings["total_s"] = time.monotonic() - t0
    return result
