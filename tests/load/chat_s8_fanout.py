"""S8 — `message.events`: chat-service outbox → relay → broker → fan-out consumer → per-user Redis streams.

    uv run --frozen python tests/load/chat_s8_fanout.py [--rate 500] [--duration 30] [--runs 3] [--no-record]

Starts a scratch MariaDB database, a Tansu broker and chat-service as a real process (uvicorn, 1 worker,
uvloop + httptools, `ENVIRONMENT=development`, migrations on start, Redis db 14, `MONGO_URL=mongomock://`).
**Nothing here touches Mongo**: the bench writes `MessageSent` rows straight into chat-service's MySQL
`outbox` table (what a send commits, minus the Mongo insert), for rooms of 10 members it created in
`rooms`/`room_members`. So the send's own latency (Mongo insert + seq allocation) is **not measured here**
(it needs a real MongoDB: S4); what is measured is the pipeline after the commit.

Rows written by another process cannot wake the relay (a send wakes it right after its own commit), so the
service runs with `OUTBOX_POLL_INTERVAL_S=0.005`: the relay looks every 5 ms, as it would be kept busy by
wake-ups at hundreds of sends/s; up to 5 ms of the latency below is that poll.

* **C_kafka** (same run): aiokafka produce → consume p50/p99 at the same rate, `fetch_max_wait_ms=5`.
* **Handled latency** at `--rate` (open loop, 50 rooms × 10 members, one outbox row per scheduled time):
  scheduled insert time → the Redis stream entry's id (its millisecond = when the Lua `XADD` ran in Redis),
  read back from the members' `stream:user:{id}`. Also the relay's share (→ `outbox.published_at`).
  Target: p99 ≤ C_kafka p99 + 30 ms.
* **Burst**: 10,000 rows inserted at once; relay publish rate (first → last `published_at`) and fan-out
  drain rate (first → last `XADD`), one process. Target ≥ 1,000 events/s.
* **kill -9**: a 10,000-row burst, the chat process `kill -9`ed after ≈ 30 % are in the streams, restarted;
  then every member's stream holds each of its room's events exactly once, in seq order (0 lost,
  0 duplicated), and every outbox row is published.
CPU-µs per event of chat-service, MariaDB, Redis and the broker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiomysql
import eventbench as eb
from chatbench import CHAT_DIR, REDIS_URL, chat_env, close_pool, insert_group_room, mysql_pool, user_log
from redis.asyncio import Redis

from chat_shared.events.chat import MessageSent, MessageSnapshot
from chat_shared.events.envelope import EventEnvelope
from chat_shared.testing import databases
from chat_shared.testing.broker import Broker
from chat_shared.testing.tokens import TestKeys

ROOMS = 50
MEMBERS = 10


def outbox_row(room_id: int, seq: int, sender: int, mid: str, occurred: float) -> tuple[Any, ...]:
    """A `MessageSent` outbox row as chat-service's send would commit it (the whole public message)."""
    at = datetime.fromtimestamp(occurred, UTC)
    message = MessageSnapshot(
        id=mid,
        room_id=room_id,
        seq=seq,
        sender_id=sender,
        content=f"bench {mid}",
        message_type="text",
        client_msg_id=None,
        created_at=at,
        edited_at=None,
        deleted=False,
        reactions={},
    )
    event = MessageSent.of(message)
    env = EventEnvelope.of(event, "chat-service").model_copy(update={"occurred_at": at})
    return (
        str(env.event_id),
        env.event_type,
        event.topic,
        str(event.key),
        env.model_dump_json(),
        None,
        at.replace(tzinfo=None),
    )


INSERT = (
    "INSERT INTO outbox (event_id, event_type, topic, `key`, envelope, traceparent, created_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


class Bench:
    """Rooms of fresh members in chat-service's MySQL, their Redis streams, and S8's outbox windows."""

    def __init__(self, pool: aiomysql.Pool, redis: Redis, service: eb.ServiceProcess, broker: Broker) -> None:
        self.pool = pool
        self.redis = redis
        self.service = service
        self.broker = broker
        self.user_base = random.randint(10, 90) * 10_000_000
        self.users_made: list[int] = []

    async def rooms(self, count: int = ROOMS) -> dict[int, list[int]]:
        """Fresh group rooms of MEMBERS members (fresh users: each stream starts empty)."""
        now = datetime.now(UTC).replace(tzinfo=None)
        out = {}
        async with self.pool.acquire() as conn, conn.cursor() as cur:
            for _ in range(count):
                members = [self.user_base + k for k in range(MEMBERS)]
                self.user_base += MEMBERS
                out[await insert_group_room(cur, "bench", members, now)] = members
                self.users_made += members
        return out

    def cpus(self) -> dict[str, float]:
        """CPU seconds so far of chat-service, MariaDB, Redis and the broker."""
        return {
            "chat-service": eb.cpu_seconds(self.service.pid),
            "mariadb": eb.cpu_seconds(eb.mysqld_pid()),
            "redis": eb.cpu_seconds(eb.pid_of("redis-server")),
            "broker": eb.cpu_seconds(self.broker._process.pid if self.broker._process else None),
        }

    async def entries(self, user: int) -> list[tuple[float, dict]]:
        """(XADD time s, data) of every entry of a user's stream."""
        return [(int(i.split(b"-")[0]) / 1000, json.loads(data)) for i, data in await user_log(self.redis, user)]

    async def appended(self, rooms: dict[int, list[int]]) -> int:
        """Events in the streams so far (one member per room)."""
        return sum([await self.redis.xlen(f"stream:user:{m[0]}") for m in rooms.values()])

    async def wait_appended(self, rooms: dict[int, list[int]], expected: int, timeout: float) -> int:
        """Until ``expected`` events are in the streams, nothing new came for 60 s, or ``timeout``."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            n = await self.appended(rooms)
            if n >= expected:
                return n
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since > 60:
                return n  # stuck
            await asyncio.sleep(0.25)
        return await self.appended(rooms)

    async def delete_streams(self) -> None:
        """Delete the streams of the members this bench made (ours only: others use Redis db 14 too)."""
        for i in range(0, len(self.users_made), 500):
            await self.redis.delete(*(f"stream:user:{m}" for m in self.users_made[i : i + 500]))

    async def published(self, ids: set[str]) -> dict[str, float]:
        """outbox event id → published_at (epoch s) of the given ids the relay has published."""
        async with self.pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(
                "SELECT event_id, published_at FROM outbox WHERE published_at IS NOT NULL "
                "AND created_at >= NOW(6) - INTERVAL 1 HOUR"
            )
            return {e: eb.utc(t) for e, t in await cur.fetchall() if e in ids}

    async def steady(self, rate: float, duration: float, label: str) -> tuple[eb.Window, list[float]]:
        """Outbox rows at ``rate``/s (open loop) into fresh rooms: the handled window and the relay's share."""
        rooms = await self.rooms()
        room_ids = list(rooms)
        seqs = dict.fromkeys(room_ids, 0)
        sent: dict[str, float] = {}
        ids: dict[str, str] = {}
        tasks = []

        async def insert(row: tuple[Any, ...]) -> None:
            async with self.pool.acquire() as conn, conn.cursor() as cur:
                await cur.execute(INSERT, row)

        cpu0 = self.cpus()
        start = time.perf_counter()
        wall0 = time.time()
        for i in range(int(rate * duration)):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            room = room_ids[i % len(room_ids)]
            seqs[room] += 1
            mid = f"m{uuid.uuid4().hex[:12]}"
            wall = wall0 + (scheduled - start)
            row = outbox_row(room, seqs[room], rooms[room][0], mid, wall)
            sent[mid] = wall
            ids[row[0]] = mid
            tasks.append(asyncio.create_task(insert(row)))
        await asyncio.gather(*tasks)
        await self.wait_appended(rooms, len(sent), 300)
        elapsed = time.perf_counter() - start
        cpu1 = self.cpus()
        seen: dict[str, float] = {}
        for members in rooms.values():
            for at, data in await self.entries(members[0]):
                seen[data["message"]["id"]] = at
        window = eb.Window(label, elapsed=elapsed, expected=len(sent))
        window.latencies = [seen[m] - w for m, w in sent.items() if m in seen]
        window.cpu = {k: cpu1[k] - cpu0[k] for k in cpu0}
        pub = await self.published(set(ids))
        relay = [pub[e] - sent[m] for e, m in ids.items() if e in pub]
        return window, relay

    async def burst(self, count: int, kill_after: int | None = None) -> dict[str, Any]:
        """``count`` rows inserted at once (``kill_after``: kill -9 the service once that many are in the
        streams, restart it); what reached each member's stream, the rates and the CPU."""
        rooms = await self.rooms()
        room_ids = list(rooms)
        rows: list[tuple[Any, ...]] = []
        expect: dict[int, list[str]] = {r: [] for r in room_ids}
        now = time.time()
        for i in range(count):
            room = room_ids[i % len(room_ids)]
            seq = len(expect[room]) + 1
            mid = f"m{uuid.uuid4().hex[:12]}"
            rows.append(outbox_row(room, seq, rooms[room][0], mid, now))
            expect[room].append(mid)
        cpu0 = self.cpus()
        t0 = time.time()
        async with self.pool.acquire() as conn, conn.cursor() as cur:
            for i in range(0, count, 1000):
                await cur.executemany(INSERT, rows[i : i + 1000])
        out: dict[str, Any] = {"insert_s": time.time() - t0, "expected": count}
        if kill_after is not None:
            while await self.appended(rooms) < kill_after:
                await asyncio.sleep(0.02)
            cpu_killed = eb.cpu_seconds(self.service.pid) - cpu0["chat-service"]
            eb.kill9(self.service.process)
            killed = time.time()
            out["at_kill"] = await self.appended(rooms)
            await self.service.start()
            out["restart_s"] = time.time() - killed
        got = await self.wait_appended(rooms, count, 300)
        await asyncio.sleep(2 if kill_after is None else 5)  # let late duplicates (if any) land
        cpu1 = self.cpus()
        if kill_after is not None:
            cpu1["chat-service"] += cpu_killed
            cpu0["chat-service"] = 0.0
        out["cpu"] = {k: cpu1[k] - cpu0[k] for k in cpu0}
        out["appended"] = got
        # every member: each of its room's events exactly once, in seq order
        lost = dup = disorder = 0
        stamps = []
        for room, members in rooms.items():
            for m in members:
                entries = await self.entries(m)
                mids = [d["message"]["id"] for _, d in entries]
                seqs = [d["message"]["seq"] for _, d in entries]
                stamps += [t for t, _ in entries] if m == members[0] else []
                dup += len(mids) - len(set(mids))
                lost += len(set(expect[room]) - set(mids))
                disorder += sum(1 for a, b in pairwise(seqs) if b <= a)
        stamps.sort()
        out.update(
            lost=lost,
            duplicated=dup,
            disorder=disorder,
            first=stamps[0],
            last=stamps[-1],
            t0=t0,
            drain=len(stamps) / max(stamps[-1] - stamps[0], 1e-9),
        )
        pub = sorted((await self.published({r[0] for r in rows})).values())
        out["published"] = len(pub)
        out["publish_rate"] = len(pub) / max(pub[-1] - pub[0], 1e-9) if pub else 0.0
        if kill_after is not None:
            out["resumed_s"] = min((t for t in stamps if t > killed), default=float("nan")) - killed
        return out


async def main() -> int:
    """Run S8 for chat-service; exit 0 when every target passed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    load0 = await eb.wait_quiet()
    print(f"S8 chat: load avg {os.getloadavg()} at start, {os.cpu_count()} CPUs", flush=True)
    keys = TestKeys()
    url = await databases.create_database("bench_chat_s8")
    broker = Broker().start()
    logdir = Path(tempfile.mkdtemp(prefix="bench-chat-s8-"))
    # rows inserted from outside cannot wake the relay: it polls every 5 ms (see the docstring)
    env = chat_env(url, broker.bootstrap, keys, OUTBOX_POLL_INTERVAL_S="0.005")
    service = eb.ServiceProcess("chat-service", CHAT_DIR, env, logdir)
    pool = None
    redis = Redis.from_url(REDIS_URL)
    bench = None
    ck: list[eb.Window] = []
    steady: list[eb.Window] = []
    relays: list[list[float]] = []
    bursts: list[dict[str, Any]] = []
    kill: dict[str, Any] = {}
    idle = float("nan")
    try:
        await service.start()
        pool = await mysql_pool(url, 16)
        bench = Bench(pool, redis, service, broker)
        warm_rooms = await bench.rooms(2)
        async with pool.acquire() as conn, conn.cursor() as cur:  # warm-up: group joins, connections
            for i in range(20):
                room = list(warm_rooms)[i % 2]
                await cur.execute(INSERT, outbox_row(room, i // 2 + 1, warm_rooms[room][0], f"w{i}", time.time()))
        if await bench.wait_appended(warm_rooms, 20, 120) < 20:
            raise RuntimeError("warm-up events did not reach the streams within 120 s")
        await asyncio.sleep(2)
        idle0, t_idle = eb.cpu_seconds(service.pid), time.monotonic()
        await asyncio.sleep(10)
        idle = (eb.cpu_seconds(service.pid) - idle0) / (time.monotonic() - t_idle)
        print(f"  idle chat-service (consumers polling, no events): {idle * 100:.1f} % of a core", flush=True)
        for run in range(1, args.runs + 1):
            c = await eb.c_kafka(broker.bootstrap, args.rate, args.duration, args.warmup)
            print(c.line(), f"load={eb.load():.2f}", flush=True)
            ck.append(c)
            await bench.steady(args.rate, args.warmup, "warm-up")
            w, relay = await bench.steady(args.rate, args.duration, f"handled run {run}")
            print(w.line(), f"relay p99={eb.pct(relay, 0.99) * 1e3:.1f} ms load={eb.load():.2f}", flush=True)
            steady.append(w)
            relays.append(relay)
        for run in range(1, args.runs + 1):
            b = await bench.burst(args.burst)
            print(
                f"  burst run {run}: { {k: v for k, v in b.items() if k not in ('first', 'last', 't0')} } "
                f"load={eb.load():.2f}",
                flush=True,
            )
            bursts.append(b)
        kill = await bench.burst(args.burst, kill_after=int(args.burst * 0.3))
        print(f"  kill -9: {kill}", flush=True)
    finally:
        service.stop()
        broker.stop()
        await close_pool(pool)
        if bench is not None:
            await bench.delete_streams()
        await redis.aclose()
        await databases.drop_database(url)
    load1 = eb.load()

    handled = eb.HandledTarget.of(ck, steady)
    drains = [b["drain"] for b in bursts]
    clean = all(b["lost"] == 0 and b["duplicated"] == 0 and b["disorder"] == 0 for b in [*bursts, kill])
    burst_ok = eb.med(drains) >= 1000 and clean
    kill_ok = (
        kill["lost"] == 0
        and kill["duplicated"] == 0
        and kill["disorder"] == 0
        and kill["published"] == kill["expected"]
    )
    note = f" ({args.runs}×{args.duration:.0f} s; load avg {load0:.1f} at start, {load1:.1f} at end)"
    cpu_names = list(steady[0].cpu)
    rows = [
        eb.c_kafka_row(ck, args.rate, note),
        (
            f"outbox row → member streams, open loop {args.rate:.0f}/s, 50 rooms × 10 members{note}",
            *eb.nxr_cells(steady),
            handled.ratio(),
            "PASS" if handled.ok else "FAIL",
            f"p50 {eb.ms([eb.pct(w.latencies, 0.5) for w in steady])}; relay share (→ published_at) p50 "
            f"{eb.ms([eb.pct(r, 0.5) for r in relays])}, p99 {eb.ms([eb.pct(r, 0.99) for r in relays])}; lost "
            f"{handled.lost}; CPU-µs/event "
            + eb.cpu_cells(steady)
            + f"; idle chat-service {idle * 100:.1f} % of a core",
        ),
        (
            f"{args.burst}-row outbox burst, 1 process (relay + fan-out){note}",
            "backlog",
            eb.spread(drains, "{:.0f}") + "/s fanned out",
            "–",
            "–",
            f"{eb.med(drains) / 1000:.2f} × 1,000/s",
            "PASS" if burst_ok else "FAIL",
            f"relay publish {eb.spread([b['publish_rate'] for b in bursts], '{:.0f}')}/s; first insert → last "
            f"XADD {eb.spread([b['last'] - b['t0'] for b in bursts], '{:.2f}')} s; lost/dup/disorder "
            f"{sum(b['lost'] for b in bursts)}/{sum(b['duplicated'] for b in bursts)}/"
            f"{sum(b['disorder'] for b in bursts)}; CPU-µs/event "
            + ", ".join(
                f"{k} {eb.spread([b['cpu'][k] / b['expected'] * 1e6 for b in bursts], '{:.0f}')}" for k in cpu_names
            ),
        ),
        (
            f"kill -9 mid-burst ({args.burst} rows, 500 member streams){note}",
            "–",
            f"{kill['expected'] / max(kill['last'] - kill['t0'], 1e-9):.0f}/s incl. restart",
            "–",
            "–",
            f"lost {kill['lost']}, duplicated {kill['duplicated']}, out of order {kill['disorder']}",
            "PASS" if kill_ok else "FAIL",
            f"killed at {kill['at_kill']} appended; restart → healthy {kill['restart_s']:.1f} s; first append after "
            f"the kill {kill['resumed_s']:.1f} s; outbox published {kill['published']}/{kill['expected']}",
        ),
    ]
    for r in rows:
        print(" | ".join(r), flush=True)
    if not args.no_record:
        eb.record("S8-chat", "S8 — message.events → fan-out → per-user Redis streams", eb.section_doc(__doc__), rows)
    print(f"logs in {logdir}")
    return 0 if handled.ok and burst_ok and kill_ok else 1


if __name__ == "__main__":
    import uvloop

    sys.exit(uvloop.run(main()))
