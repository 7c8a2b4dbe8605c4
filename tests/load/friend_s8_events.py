"""S8 — `user.events` → friend-service's users replica (consumer group `friend-service.user-replica`).

    uv run --frozen python tests/load/friend_s8_events.py [--rate 500] [--duration 30] [--runs 3] [--no-record]

Starts a scratch MariaDB database, a Tansu broker and friend-service as a real process (uvicorn, 1 worker,
uvloop + httptools, `ENVIRONMENT=development`, `RUN_MIGRATIONS_ON_START=true`, Redis db 13); the bench
itself is the producer (user-service's outbox relay is replaced by an aiokafka producer with the relay's
settings: `acks=all`, `linger_ms=0`), so what is measured is broker → consumer → idempotent MySQL write.

* **C_kafka** (denominator, same run): aiokafka produce → consume p50/p99 at the same rate on this broker,
  consumer `fetch_max_wait_ms=5`, open loop.
* **Handled latency**: `UserProfileUpdated` envelopes (`chat_shared.events`) for distinct users, open loop
  at `--rate`; latency = `processed_events.processed_at` (stamped by the consumer inside the transaction that
  writes the replica row, just before its commit) − the event's *scheduled* send time. Target: p99 ≤
  C_kafka p99 + 30 ms. N = Σ latency / window, X = handled/s, R = mean.
* **Burst**: 10,000 events produced as fast as the producer goes; drain rate = events / (last − first
  `processed_at`), one consumer process. Target ≥ 1,000 events/s.
* **kill -9**: a 10,000-event burst (5,000 users × 2 successive updates), friend-service is `kill -9`ed
  after ≈ 3,000 are handled and restarted; then `processed_events` rows == distinct event ids == 10,000
  (0 lost), every replica row holds the user's *second* update (order kept, nothing applied out of date),
  and the restarted process's `events_consumed_total{result="duplicate"}` counts the redeliveries it
  recognised and skipped (0 applied twice).
CPU-µs per event of friend-service, MariaDB and the broker over each window (MariaDB's CPU includes any
other work the shared server does meanwhile).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import eventbench as eb
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from chat_shared.events.envelope import EventEnvelope
from chat_shared.events.topics import USER_EVENTS
from chat_shared.events.user import UserProfileUpdated
from chat_shared.testing import databases
from chat_shared.testing.broker import Broker
from chat_shared.testing.tokens import TestKeys

FRIEND_DIR = eb.ROOT / "services" / "friend-service"
GROUP = "friend-service.user-replica"


def envelope(user_id: int, version: int, at: datetime, occurred: float) -> tuple[bytes, bytes, str]:
    """A ``UserProfileUpdated`` as user-service's outbox would publish it (key = user id)."""
    payload = UserProfileUpdated(
        user_id=user_id, username=f"u{user_id}", display_name=f"User {user_id} v{version}", updated_at=at
    )
    env = EventEnvelope.of(payload, "bench").model_copy(update={"occurred_at": datetime.fromtimestamp(occurred, UTC)})
    return str(user_id).encode(), env.model_dump_json().encode(), str(env.event_id)


class Bench:
    def __init__(self, url: str, service: eb.ServiceProcess, broker: Broker) -> None:
        self.engine = create_async_engine(url, pool_size=2)
        self.service = service
        self.broker = broker
        self.next_user = 1_000_000

    def users(self, count: int) -> range:
        first = self.next_user
        self.next_user += count
        return range(first, first + count)

    async def processed(self, ids: set[str], since: float) -> dict[str, float]:
        """event id → processed_at (epoch s) for the given ids, handled after ``since`` (epoch s)."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT event_id, processed_at FROM processed_events WHERE consumer = :g AND processed_at >= :t"
                    ),
                    {"g": GROUP, "t": datetime.fromtimestamp(since - 1, UTC).replace(tzinfo=None)},
                )
            ).all()
        return {e: eb.utc(t) for e, t in rows if e in ids}

    async def count_since(self, since: float) -> int:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    text("SELECT COUNT(*) FROM processed_events WHERE consumer = :g AND processed_at >= :t"),
                    {"g": GROUP, "t": datetime.fromtimestamp(since - 1, UTC).replace(tzinfo=None)},
                )
            ).scalar()

    async def wait_processed(self, ids: set[str], since: float, timeout: float) -> dict[str, float]:
        """Poll (every 0.25 s, after the producing is over) until every id is handled or ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            if await self.count_since(since) >= len(ids) or time.monotonic() > deadline:
                done = await self.processed(ids, since)
                if len(done) >= len(ids) or time.monotonic() > deadline:
                    return done
            await asyncio.sleep(0.25)

    async def settle(self, quiet: float = 1.5, timeout: float = 120) -> None:
        """Wait until the consumer is idle (no new processed row for ``quiet`` s): no backlog between phases."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            async with self.engine.connect() as conn:
                now = (
                    await conn.execute(text("SELECT COUNT(*) FROM processed_events WHERE consumer = :g"), {"g": GROUP})
                ).scalar()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            await asyncio.sleep(0.25)

    def cpus(self) -> dict[str, float]:
        return {
            "friend-service": eb.cpu_seconds(self.service.pid),
            "mariadb": eb.cpu_seconds(eb.mysqld_pid()),
            "broker": eb.cpu_seconds(self.broker._process.pid if self.broker._process else None),
        }

    async def warm(self, prod) -> None:
        """One event through, so the group has joined and every connection is open."""
        users = self.users(20)
        ids = set()
        since = time.time()
        for u in users:
            key, value, eid = envelope(u, 1, datetime.now(UTC), time.time())
            await prod.send_and_wait(USER_EVENTS, value, key=key)
            ids.add(eid)
        got = await self.wait_processed(ids, since, 120)
        if len(got) != len(ids):
            raise RuntimeError("the consumer did not handle the warm-up events within 120 s")

    async def steady(self, prod, rate: float, duration: float, label: str) -> eb.Window:
        users = iter(self.users(int(rate * duration) + 1))
        ids: dict[str, float] = {}

        def make(i: int, wall: float) -> tuple[bytes, bytes]:
            key, value, eid = envelope(next(users), 1, datetime.now(UTC), wall)
            ids[eid] = wall
            return key, value

        await self.settle()
        cpu0 = self.cpus()
        t0 = time.perf_counter()
        since = time.time()
        await eb.open_loop_produce(prod, USER_EVENTS, rate, duration, make)
        done = await self.wait_processed(set(ids), since, 300)
        elapsed = time.perf_counter() - t0
        cpu1 = self.cpus()
        window = eb.Window(label, elapsed=elapsed, expected=len(ids))
        window.latencies = [done[e] - w for e, w in ids.items() if e in done]
        window.cpu = {k: cpu1[k] - cpu0[k] for k in cpu0}
        return window

    async def burst(self, prod, count: int, versions: int = 1, kill_after: int | None = None) -> dict[str, object]:
        """``count`` events as fast as possible (``versions`` successive updates per user)."""
        users = self.users(count // versions)
        ids: dict[str, int] = {}
        last: dict[int, str] = {}
        base = datetime.now(UTC)
        messages = []
        for v in range(1, versions + 1):
            for u in users:
                key, value, eid = envelope(u, v, base + timedelta(milliseconds=v), time.time())
                ids[eid] = u
                last[u] = f"User {u} v{v}"
                messages.append((key, value))
        await self.settle()
        cpu0 = self.cpus()
        t0 = time.time()
        futures = [await prod.send(USER_EVENTS, value, key=key) for key, value in messages]
        await asyncio.gather(*futures)
        produced = time.time()
        out: dict[str, object] = {"produce_s": produced - t0}
        if kill_after is not None:
            while await self.count_since(t0) < kill_after:
                await asyncio.sleep(0.02)
            before = await self.count_since(t0)
            cpu_killed = eb.cpu_seconds(self.service.pid) - cpu0["friend-service"]
            eb.kill9(self.service.process)
            killed = time.time()
            at_kill = await self.count_since(t0)
            out.update(handled_before_kill=at_kill, polled_before_kill=before)
            await self.service.start()
            out["restart_s"] = time.time() - killed
        done = await self.wait_processed(set(ids), t0, 300)
        cpu1 = self.cpus()
        if kill_after is not None:  # the killed process's share + all of the new one's (start-up included)
            cpu1["friend-service"] += cpu_killed
            cpu0["friend-service"] = 0.0
        stamps = sorted(done.values())
        out.update(
            expected=len(ids),
            handled=len(done),
            first_produce=t0,
            first=stamps[0] if stamps else 0,
            last=stamps[-1] if stamps else 0,
            cpu={k: cpu1[k] - cpu0[k] for k in cpu0},
        )
        if kill_after is not None:
            out["resumed_s"] = min((t for t in stamps if t > killed), default=float("nan")) - killed
        async with self.engine.connect() as conn:
            placeholders = ",".join(str(u) for u in users)
            rows = dict(
                (await conn.execute(text(f"SELECT id, display_name FROM users WHERE id IN ({placeholders})"))).all()
            )
            out["replica_rows"] = len(rows)
            out["replica_stale"] = sum(1 for u in users if rows.get(u) != last[u])
            out["processed_rows"] = (
                await conn.execute(text("SELECT COUNT(*) FROM processed_events WHERE consumer = :g"), {"g": GROUP})
            ).scalar()
        return out


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument(
        "--low-rate",
        type=float,
        default=100.0,
        help="also measure handled latency at this (unsaturated) rate; 0 = skip",
    )
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    load0 = await eb.wait_quiet()
    print(f"S8 friend: load avg {os.getloadavg()} at start, {os.cpu_count()} CPUs", flush=True)
    keys = TestKeys()
    url = await databases.create_database("bench_friend_s8")
    broker = Broker().start()
    logdir = Path(tempfile.mkdtemp(prefix="bench-friend-s8-"))
    env = {
        "ENVIRONMENT": "development",
        "DATABASE_URL": url,
        "RUN_MIGRATIONS_ON_START": "true",
        "REDIS_URL": "redis://127.0.0.1:6379/13",
        "KAFKA_BOOTSTRAP": broker.bootstrap,
        "KAFKA_ENABLE_IDEMPOTENCE": "false",
        "LOG_LEVEL": "WARNING",
        "JWT_PUBLIC_KEY": keys.public_pem,
        "JWT_PUBLIC_KEY_ID": keys.kid,
        "USER_SERVICE_URL": "http://127.0.0.1:1",
        "KAFKA_REPLICA_FETCH_MAX_WAIT_MS": "5",
    }  # the replica consumer is what this benchmark measures
    service = eb.ServiceProcess("friend-service", FRIEND_DIR, env, logdir)
    bench = Bench(url, service, broker)
    prod = eb.producer(broker.bootstrap)
    ck, steady, low, bursts, kill = [], [], [], [], {}
    try:
        await service.start()
        await prod.start()
        await bench.warm(prod)
        for run in range(1, args.runs + 1):
            c = await eb.c_kafka(broker.bootstrap, args.rate, args.duration, args.warmup)
            print(c.line(), f"load={eb.load():.2f}", flush=True)
            ck.append(c)
            await bench.steady(prod, args.rate, args.warmup, "warm-up")
            w = await bench.steady(prod, args.rate, args.duration, f"handled run {run}")
            print(w.line(), f"load={eb.load():.2f}", flush=True)
            steady.append(w)
            if args.low_rate:
                w = await bench.steady(
                    prod, args.low_rate, args.duration, f"handled at {args.low_rate:.0f}/s run {run}"
                )
                print(w.line(), f"load={eb.load():.2f}", flush=True)
                low.append(w)
        for run in range(1, args.runs + 1):
            b = await bench.burst(prod, args.burst)
            rate = b["handled"] / max(b["last"] - b["first"], 1e-9)
            b["drain"] = rate
            print(
                f"  burst run {run}: {b['handled']}/{b['expected']} produced in {b['produce_s']:.2f} s, drained "
                f"at {rate:.0f}/s (first→last handled {b['last'] - b['first']:.2f} s; first produce → last handled "
                f"{b['last'] - b['first_produce']:.2f} s) CPU-µs/event "
                f"{ {k: round(v / max(b['handled'], 1) * 1e6) for k, v in b['cpu'].items()} } "
                f"stale={b['replica_stale']} load={eb.load():.2f}",
                flush=True,
            )
            bursts.append(b)
        dup0 = 0.0
        kill = await bench.burst(prod, args.burst, versions=2, kill_after=int(args.burst * 0.3))
        dup = await service.metric("events_consumed_total", event_type="UserProfileUpdated", result="duplicate")
        kill["duplicates_skipped"] = dup - dup0
        kill["dlq"] = await service.metric("events_dlq_total")
        print(f"  kill -9: {kill}", flush=True)
    finally:
        await prod.stop()
        service.stop()
        broker.stop()
        await bench.engine.dispose()
        await databases.drop_database(url)
    load1 = eb.load()

    # ------------------------------------------------------------------ verdicts and the table
    handled = eb.HandledTarget.of(ck, steady)
    drains = [b["drain"] for b in bursts]
    burst_ok = eb.med(drains) >= 1000 and all(b["handled"] == b["expected"] and b["replica_stale"] == 0 for b in bursts)
    kill_ok = (
        kill["handled"] == kill["expected"]
        and kill["replica_stale"] == 0
        and kill["replica_rows"] == kill["expected"] // 2
        and kill["dlq"] == 0
    )
    note = f" ({args.runs}×{args.duration:.0f} s; load avg {load0:.1f} at start, {load1:.1f} at end)"
    rows = [
        eb.c_kafka_row(ck, args.rate, note),
        (
            f"user.events → replica, open loop {args.rate:.0f}/s, handled latency{note}",
            *eb.nxr_cells(steady),
            handled.ratio(),
            "PASS" if handled.ok else "FAIL",
            f"p50 {eb.ms([eb.pct(w.latencies, 0.5) for w in steady])}; lost {handled.lost}; CPU-µs/event "
            + eb.cpu_cells(steady),
        ),
        (
            f"{args.burst}-event burst, 1 consumer process{note}",
            "backlog",
            eb.spread(drains, "{:.0f}") + "/s drained",
            "–",
            "–",
            f"{eb.med(drains) / 1000:.2f} × 1,000/s",
            "PASS" if burst_ok else "FAIL",
            f"produce {eb.spread([b['produce_s'] for b in bursts], '{:.2f}')} s; first produce → last handled "
            f"{eb.spread([b['last'] - b['first_produce'] for b in bursts], '{:.2f}')} s; CPU-µs/event friend-service "
            f"{eb.spread([b['cpu']['friend-service'] / b['handled'] * 1e6 for b in bursts], '{:.0f}')}, mariadb "
            f"{eb.spread([b['cpu']['mariadb'] / b['handled'] * 1e6 for b in bursts], '{:.0f}')}",
        ),
        (
            f"kill -9 mid-burst ({args.burst} events = {args.burst // 2} users × 2 updates){note}",
            "–",
            f"{kill['handled'] / max(kill['last'] - kill['first'], 1e-9):.0f}/s incl. restart",
            "–",
            "–",
            f"lost {kill['expected'] - kill['handled']}, stale {kill['replica_stale']}, "
            f"redeliveries skipped {kill['duplicates_skipped']:.0f}",
            "PASS" if kill_ok else "FAIL",
            f"killed at {kill['handled_before_kill']} handled; restart → healthy {kill['restart_s']:.1f} s, first event "
            f"handled {kill['resumed_s']:.1f} s after the kill; processed_events {kill['handled']}/{kill['expected']} "
            f"distinct; replica rows {kill['replica_rows']}; DLQ {kill['dlq']:.0f}",
        ),
    ]
    if low:
        p99_low = [eb.pct(w.latencies, 0.99) for w in low]
        rows.insert(
            2,
            (
                f"user.events → replica, open loop {args.low_rate:.0f}/s (below saturation), handled latency{note}",
                *eb.nxr_cells(low),
                f"p99 {eb.ms(p99_low)} / {handled.limit * 1e3:.1f} ms = {eb.med(p99_low) / handled.limit:.2f}",
                "info (target is at 500/s)",
                f"p50 {eb.ms([eb.pct(w.latencies, 0.5) for w in low])}; lost {sum(w.expected - len(w.latencies) for w in low)};"
                " CPU-µs/event " + eb.cpu_cells(low),
            ),
        )
    for r in rows:
        print(" | ".join(r), flush=True)
    if not args.no_record:
        eb.record(
            "S8-friend", "S8 — user.events → friend-service replica", eb.section_doc(__doc__), [tuple(r) for r in rows]
        )
    print(f"logs in {logdir}")
    return 0 if handled.ok and burst_ok and kill_ok else 1


if __name__ == "__main__":
    import uvloop

    sys.exit(uvloop.run(main()))
