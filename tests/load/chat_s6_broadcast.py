"""S6 — one message broadcast to 1k / 5k / 10k open streams of one room, on one chat-service worker.

    uv run --frozen python tests/load/chat_s6_broadcast.py [--sizes 1000 5000 10000] [--runs 3] [--no-record]

Rooms hold at most 100 members (CONTRACT §5), so N subscribers are the 100 members of one group room, each
with N/100 open streams (devices). That exercises the whole per-process path of a broadcast: the outbox row
is published by the relay, the fan-out consumer appends the event once to each member's log and publishes
one wake-up per member, and the stream hub pumps every local connection of each member.

Per size and run: a fresh marker message is inserted into the outbox (as a committed send would leave it;
nothing touches Mongo), every stream reads until it sees the marker, and we report the time from the
insert to the last delivery (target p99 ≤ 100 / 250 / 500 ms), the median delivery, and deliveries per
CPU-second of chat-service (target ≥ 30 k per worker core). The chat-service relay polls every 5 ms because
an insert from outside cannot wake it (a real send wakes it right after its commit).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiomysql
import eventbench as eb
from chat_s5_idle_streams import open_stream
from chat_s8_fanout import CHAT_DIR, INSERT, REDIS_URL, outbox_row
from sqlalchemy.engine import make_url

from chat_shared.testing import databases
from chat_shared.testing.broker import Broker
from chat_shared.testing.tokens import TestKeys

MEMBERS = 100
TARGET_MS = {1000: 100.0, 5000: 250.0, 10000: 500.0}


async def make_room(pool: aiomysql.Pool, first_user: int) -> tuple[int, list[int]]:
    """A group room of MEMBERS fresh users."""
    now = datetime.now(UTC).replace(tzinfo=None)
    members = list(range(first_user, first_user + MEMBERS))
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute("INSERT INTO rooms (type, name, created_by, last_seq, created_at, last_activity_at)"
                          " VALUES ('group', 's6', %s, 0, %s, %s)", (members[0], now, now))
        room = int(cur.lastrowid)
        await cur.executemany("INSERT INTO room_members (room_id, user_id, last_read_seq, joined_at) "
                              "VALUES (%s, %s, 0, %s)", [(room, m, now) for m in members])
    return room, members


async def broadcast(pool: aiomysql.Pool, streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
                    room: int, seq: int, sender: int, pid: int | None) -> tuple[list[float], float]:
    """Send one marker message; (delivery delays in s, chat-service CPU s) once every stream has it."""
    marker = f"s6{uuid.uuid4().hex[:12]}"
    arrived: list[float] = []

    async def watch(reader: asyncio.StreamReader) -> None:
        await reader.readuntil(marker.encode())
        arrived.append(time.perf_counter())

    watchers = [asyncio.create_task(watch(reader)) for reader, _ in streams]
    cpu0 = eb.cpu_seconds(pid)
    start = time.perf_counter()
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(INSERT, outbox_row(room, seq, sender, marker, time.time()))
    await asyncio.wait_for(asyncio.gather(*watchers), timeout=120)
    return [t - start for t in arrived], eb.cpu_seconds(pid) - cpu0


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    await eb.wait_quiet()
    keys = TestKeys()
    url = await databases.create_database("bench_chat_s6")
    broker = Broker().start()
    logdir = Path(tempfile.mkdtemp(prefix="bench-chat-s6-"))
    env = {"ENVIRONMENT": "development", "DATABASE_URL": url, "RUN_MIGRATIONS_ON_START": "true",
           "REDIS_URL": REDIS_URL, "MONGO_URL": "mongomock://", "KAFKA_BOOTSTRAP": broker.bootstrap,
           "KAFKA_ENABLE_IDEMPOTENCE": "false", "LOG_LEVEL": "WARNING", "JWT_PUBLIC_KEY": keys.public_pem,
           "JWT_PUBLIC_KEY_ID": keys.kid, "OUTBOX_POLL_INTERVAL_S": "0.005"}
    service = eb.ServiceProcess("chat-service", CHAT_DIR, env, logdir)
    u = make_url(url)
    pool = None
    rows: list[str] = []
    try:
        await service.start()
        pool = await aiomysql.create_pool(host=u.host, port=u.port or 3306, user=u.username,
                                          password=u.password or "", db=u.database, autocommit=True, maxsize=4)
        first_user = 20_000_000
        for size in args.sizes:
            room, members = await make_room(pool, first_user)
            first_user += MEMBERS
            streams = []
            for i in range(0, size, 200):
                streams += await asyncio.gather(*(open_stream(service.port, keys.token(members[j % MEMBERS]))
                                                  for j in range(i, min(i + 200, size))))
            await broadcast(pool, streams, room, 1, members[0], service.pid)  # warm-up
            lasts, medians, rates = [], [], []
            for run in range(1, args.runs + 1):
                delays, cpu = await broadcast(pool, streams, room, run + 1, members[0], service.pid)
                last, median = max(delays) * 1e3, statistics.median(delays) * 1e3
                lasts.append(last)
                medians.append(median)
                rates.append(size / cpu if cpu > 0 else float("nan"))
                print(f"S6 N={size} run {run}: last delivery {last:.1f} ms, median {median:.1f} ms, "
                      f"{size / cpu:,.0f} deliveries per chat-service CPU-second, load {eb.load():.2f}", flush=True)
            for _, writer in streams:
                writer.close()
            last_med = statistics.median(lasts)
            verdict = "PASS" if max(lasts) <= TARGET_MS[size] and min(rates) >= 30_000 else "FAIL"
            rows.append(
                f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {eb.commit()} | {size} ({MEMBERS} members × "
                f"{size // MEMBERS} streams) | {last_med:.1f} ({min(lasts):.1f}–{max(lasts):.1f}) ms | "
                f"{statistics.median(medians):.1f} ms | {statistics.median(rates):,.0f} "
                f"({min(rates):,.0f}–{max(rates):,.0f})/CPU-s | ≤ {TARGET_MS[size]:.0f} ms, ≥ 30,000/CPU-s "
                f"| {verdict} |")
            await asyncio.sleep(1)
    finally:
        if pool is not None:
            pool.close()
            await pool.wait_closed()
        service.stop()
        broker.stop()
        await databases.drop_database(url)
    print("\n".join(rows))
    if not args.no_record and rows:
        doc = eb.DOC.read_text()
        head = ("| date | commit | subscribers | last delivery (median, spread of runs) | median delivery | "
                "deliveries per CPU-second | target | verdict |\n|---|---|---|---|---|---|---|---|\n")
        marker = "<!-- results:S6 -->"
        if marker not in doc:
            doc = doc.replace("## S4, S7 — not measured here",
                              f"## S6 — broadcast to one room's streams\n\n`uv run --frozen python "
                              f"tests/load/chat_s6_broadcast.py` (see its docstring for the method).\n\n{marker}\n"
                              f"{head}<!-- /results:S6 -->\n\n## S4, S7 — not measured here", 1)
        doc = doc.replace("<!-- /results:S6 -->", "\n".join(rows) + "\n<!-- /results:S6 -->", 1)
        eb.DOC.write_text(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
