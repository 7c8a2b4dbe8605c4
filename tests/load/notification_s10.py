"""S10 — notifications: messages into rooms whose members are all offline, pushed to a local Web Push
receiver.

    uv run --frozen python tests/load/notification_s10.py [--rooms 50] [--rate 500] [--duration 30]
        [--burst-rooms 1000]

Starts a scratch MariaDB database, a Tansu broker and notification-service as a real process (uvicorn,
1 worker); the bench publishes the other services' events itself (users, rooms of 10, presence offline,
then ``MessageSent``) and runs the Web Push receiver of the service's tests (VAPID checked and payload
decrypted with each subscription's private key, on a sample when the rate is high).

* **Steady**: ``--rate`` messages/s for ``--duration`` s, spread over ``--rooms`` rooms of 10 (9 recipients
  each). Each recipient's *first* push latency = arrival at the receiver − the room's first message's
  ``created_at`` (p50/p99; target p99 ≤ 1 s). Collapse: per subscription and room, no two pushes less than
  the window (10 s) apart, and the ``count``s of a room's pushes add up to the messages sent in it (0 lost,
  0 twice).
* **Burst**: one message in each of ``--burst-rooms`` new rooms (9 pushes each, no collapse): encrypted
  pushes/s from the first to the last arrival, and notification-service's CPU-seconds per push
  (target ≥ 1,000 pushes/s per worker core).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import eventbench as eb
import httpx
from common import start_uvicorn, stop, wait_ready
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from chat_shared.events.chat import MessageSent, MessageSnapshot, RoomCreated
from chat_shared.events.envelope import EventEnvelope
from chat_shared.events.user import UserOffline, UserRegistered
from chat_shared.testing import databases
from chat_shared.testing.broker import Broker, free_port
from chat_shared.testing.tokens import TestKeys

SERVICE_DIR = eb.ROOT / "services" / "notification-service"
sys.path.insert(0, str(SERVICE_DIR))  # the service's test receiver and its models
from tests.fakes.push_receiver import PushReceiver  # noqa: E402

from app.models.replica import Member  # noqa: E402
from app.services.webpush import generate_vapid_pem  # noqa: E402

MEMBERS = 10
WINDOW_S = 10.0
_next = iter(range(10_000_000 + int(time.time()) % 1_000_000 * 1000, 2**62))


def message(room_id: int, seq: int, sender: int) -> MessageSnapshot:
    return MessageSnapshot(
        id=os.urandom(12).hex(),
        room_id=room_id,
        seq=seq,
        sender_id=sender,
        content=f"message {seq}",
        message_type="text",
        client_msg_id=None,
        created_at=datetime.now(UTC),
        edited_at=None,
        deleted=False,
        reactions={},
        version=1,
    )


async def publish(producer, events) -> None:  # type: ignore[no-untyped-def]
    for event in events:
        body = EventEnvelope.of(event, "bench").model_dump_json().encode()
        await producer.send(event.topic, body, key=str(event.key).encode())
    await producer.flush()


async def make_rooms(
    producer, engine, client: httpx.AsyncClient, keys: TestKeys, receiver: PushReceiver, n: int
) -> list[list[int]]:  # type: ignore[no-untyped-def]
    """``n`` rooms of 10 offline users, each user with one subscription; the member ids per room."""
    now = datetime.now(UTC)
    rooms = [[next(_next) for _ in range(MEMBERS)] for _ in range(n)]
    ids = [next(_next) for _ in range(n)]
    events: list = []
    for members in rooms:
        for user in members:
            events += [
                UserRegistered(user_id=user, username=f"b{user}"[:20], display_name="B", created_at=now),
                UserOffline(user_id=user, at=now),
            ]
    events += [
        RoomCreated(room_id=r, type="group", member_ids=m, created_by=m[0], at=now)
        for r, m in zip(ids, rooms, strict=True)
    ]
    await publish(producer, events)
    while True:  # a connection per look: one transaction would keep seeing its first snapshot
        async with engine.connect() as conn:
            found = await conn.scalar(select(func.count()).select_from(Member).where(Member.room_id.in_(ids)))
        if found >= n * MEMBERS:
            break
        await asyncio.sleep(0.2)
    sem = asyncio.Semaphore(16)

    async def subscribe(room: int, user: int) -> None:
        async with sem:
            r = await client.post(
                "/notifications/subscriptions",
                json=receiver.subscription(f"{room}-{user}"),
                headers=keys.headers(user, f"b{user}"),
            )
            assert r.status_code == 201, r.text

    await asyncio.gather(*(subscribe(r, u) for r, m in zip(ids, rooms, strict=True) for u in m[1:]))
    return [[r, *m] for r, m in zip(ids, rooms, strict=True)]


async def run(args: argparse.Namespace) -> list[tuple[str, ...]]:
    keys = TestKeys()
    url = await databases.create_database("bench_notif")
    await asyncio.to_thread(databases.migrate, SERVICE_DIR, url)
    broker = Broker().start()
    vapid = Path(tempfile.mkstemp(suffix=".pem")[1])
    vapid.write_bytes(generate_vapid_pem())
    port = free_port()
    env = {
        **os.environ,
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": url,
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
        "KAFKA_BOOTSTRAP": broker.bootstrap,
        "KAFKA_ENABLE_IDEMPOTENCE": "false",
        "JWT_PUBLIC_KEY": keys.public_pem,
        "JWT_PUBLIC_KEY_ID": keys.kid,
        "PUSH_ALLOW_LOOPBACK": "true",
        "VAPID_PRIVATE_KEY_FILE": str(vapid),
        "DISPATCH_POLL_S": "0.05",
    }
    process = start_uvicorn("main:app", SERVICE_DIR, port, env)
    await wait_ready(port, "/health", process, timeout=240)
    print("notification-service is up", flush=True)
    engine = create_async_engine(url)
    producer = eb.producer(broker.bootstrap)
    await producer.start()
    rows: list[tuple[str, ...]] = []
    try:
        async with (
            PushReceiver(sample=1) as receiver,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
        ):
            rooms = await make_rooms(producer, engine, client, keys, receiver, args.rooms)
            print(f"{len(rooms)} rooms of {MEMBERS} ready", flush=True)
            # Steady: open loop, round-robin over the rooms.
            first_sent: dict[int, float] = {}
            sent_per_room: dict[int, int] = defaultdict(int)
            interval = 1 / args.rate
            start = time.monotonic()
            i = 0
            while (elapsed := time.monotonic() - start) < args.duration:
                room = rooms[i % len(rooms)]
                sent_per_room[room[0]] += 1
                snap = message(room[0], sent_per_room[room[0]], room[1])
                first_sent.setdefault(room[0], snap.created_at.timestamp())
                await publish(producer, [MessageSent.of(snap)])
                i += 1
                await asyncio.sleep(max(0.0, i * interval - (time.monotonic() - start)))
            rate = i / elapsed
            expected = {f"{r[0]}-{u}": sent_per_room[r[0]] for r in rooms for u in r[2:]}

            def counted() -> dict[str, int]:
                totals: dict[str, int] = defaultdict(int)
                for got in receiver.received:
                    totals[got.name] += got.payload.get("count", 0)
                return totals

            deadline = time.monotonic() + WINDOW_S * 3 + 30
            while counted() != expected and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            totals = counted()
            arrivals: dict[str, list[float]] = defaultdict(list)
            for got in receiver.received:
                arrivals[got.name].append(got.at)
            first = [min(times) - first_sent[int(name.split("-")[0])] for name, times in arrivals.items()]
            gaps = [b - a for times in arrivals.values() for a, b in pairwise(sorted(times))]
            lost = sum(max(0, n - totals.get(name, 0)) for name, n in expected.items())
            twice = sum(max(0, totals.get(name, 0) - n) for name, n in expected.items())
            print(
                f"steady: {i} messages at {rate:.0f}/s into {len(rooms)} rooms; {len(receiver.received)} pushes; "
                f"first push p50 {eb.pct(first, 50) * 1000:.0f} ms p99 {eb.pct(first, 99) * 1000:.0f} ms; "
                f"min gap {min(gaps, default=0):.2f} s; lost {lost}; twice {twice}"
            )
            rows.append(
                (
                    datetime.now(UTC).date().isoformat(),
                    eb.commit(),
                    f"steady {rate:.0f} msg/s, {len(rooms)} rooms of 10",
                    f"first push p50 {eb.pct(first, 50) * 1000:.0f} ms / p99 {eb.pct(first, 99) * 1000:.0f} ms",
                    f"min gap {min(gaps, default=0):.1f} s (window {WINDOW_S:.0f} s)",
                    f"lost {lost}, twice {twice}",
                    "p99 ≤ 1 s" if eb.pct(first, 99) <= 1 else "p99 > 1 s",
                )
            )

            # Burst: one message in each of many new rooms, no collapse.
            receiver.sample = 20
            burst = await make_rooms(producer, engine, client, keys, receiver, args.burst_rooms)
            receiver.received.clear()
            cpu0 = eb.cpu_seconds(process.pid)
            await publish(producer, [MessageSent.of(message(r[0], 1, r[1])) for r in burst])
            want = len(burst) * (MEMBERS - 1)
            deadline = time.monotonic() + 300
            while len(receiver.received) < want and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            cpu = eb.cpu_seconds(process.pid) - cpu0
            times = [got.at for got in receiver.received]
            span = max(times) - min(times) if len(times) > 1 else float("nan")
            decrypted = [got for got in receiver.received if got.payload]
            assert all(got.payload["count"] == 1 for got in decrypted)
            per_s = len(times) / span
            print(
                f"burst: {len(times)}/{want} pushes in {span:.1f} s = {per_s:.0f}/s; service CPU {cpu:.1f} s = "
                f"{cpu / max(1, len(times)) * 1e6:.0f} µs/push = {len(times) / cpu:.0f} pushes per CPU-second; "
                f"{len(decrypted)} decrypted and checked"
            )
            rows.append(
                (
                    datetime.now(UTC).date().isoformat(),
                    eb.commit(),
                    f"burst {want} pushes",
                    f"{per_s:.0f} pushes/s",
                    f"{len(times) / cpu:.0f} pushes per CPU-s",
                    f"{cpu / max(1, len(times)) * 1e6:.0f} µs/push",
                    "≥ 1,000/core" if len(times) / cpu >= 1000 else "< 1,000/core",
                )
            )
    finally:
        await producer.stop()
        await engine.dispose()
        stop(process)
        broker.stop()
        await databases.drop_database(url)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--burst-rooms", type=int, default=1000)
    args = parser.parse_args()
    for row in asyncio.run(run(args)):
        print(" | ".join(row))


if __name__ == "__main__":
    main()
