"""S7 — history page `GET /rooms/{id}/messages?limit=50&before=<seq>`: p95 at 200 req/s, max pages/s on
2 workers, and the ratio to the raw driver query.

    uv run --frozen python tests/load/chat_s7_history.py [--messages 10000] [--rate 200] [--duration 30] [--runs 3] [--no-record]
    uv run --frozen python tests/load/chat_s7_history.py --smoke      # no real MongoDB: correctness only

**Real MongoDB only.** Without `MONGO_URL=mongodb://…` in the environment the script refuses to measure
(mongomock figures are not performance: docs/performance.md). `--smoke` runs the same code against
`MONGO_URL=mongomock://` (in-process in the service; 1,000 messages unless `--messages`), prints every
figure labelled "smoke on mongomock — not performance", still checks every page, and never writes a result
row. With a real MongoDB the service gets a scratch database (`MONGO_DB=bench_chat_s7_…`, dropped at the
end).

Starts a scratch MariaDB database, a Tansu broker and chat-service as a real process (uvicorn, uvloop +
httptools, `ENVIRONMENT=development`, migrations on start, Redis db 14). Reads touch no Kafka, so the
service runs its live fan-out group with the production fetch wait (`KAFKA_FETCH_MAX_WAIT_MS=500`,
`--fetch-wait-ms`; replica groups keep eventbench's 50 ms): Tansu does not long-poll, so at 5 ms the idle
group polls all the time, and that CPU would be charged to every page. One group room of 10 members is inserted into `rooms`/`room_members`; its messages are seeded
straight into MongoDB with the service's own Beanie `Message` document (same shape and indexes as a send
writes: `_id`, `room_id`, `seq` 1..N, `sender_id`, `content`, `dedupe_key = "~" + id`, …), then
`rooms.last_seq = N` (every read is bounded by it). In `--smoke` the messages go through the real send
route instead (the mock lives inside the service process).

* **Latency**: open loop at `--rate` (200/s) of `GET /rooms/{id}/messages?limit=50&before=B` as one member,
  B uniform in [51, N+1], latency from the scheduled send time (`common.open_loop`); every answer checked:
  200, 50 messages of the room in ascending seq B−50..B−1, `next_cursor` = B−50 (None at the first page).
  Target p95 ≤ 10 ms. Chat-service and MariaDB CPU-µs per page.
* **Raw driver query** (same windows, same B distribution, same rate): Motor
  `find({room_id, seq: {$lte: B−1}}).sort(seq, −1).limit(50).to_list()` from the bench process — the
  repository's query for that page without HTTP, auth, the two MySQL reads, Beanie and JSON. Target: page
  p95 ≤ 3 × raw p95. (In `--smoke` the raw query runs on a local mongomock seeded with the same documents.)
* **Maximum**: closed loop of `--connections` (16) on **2 uvicorn workers** (`UVICORN_WORKERS=2`, the same
  database, no migrations), pages/s and CPU-µs per page of the whole process tree. Target ≥ 600 pages/s.
  In `--smoke` this runs on the 1-worker process (each worker would hold its own mongomock).
Each measurement: warm-up, `--runs` windows; tables give median (min–max) over the runs, N/X/R/X·R.
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
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import common
import eventbench as eb
from chat_s8_fanout import Bench
from chatbench import (
    CHAT_DIR,
    NOT_MEASURED,
    REDIS_URL,
    InspectingPool,
    auth_headers,
    chat_env,
    close_pool,
    drop_mongo,
    idle_share,
    mongo_target,
    mysql_pool,
    print_rows,
    tree_cpu_seconds,
)
from redis.asyncio import Redis

from chat_shared.testing import databases
from chat_shared.testing.broker import Broker
from chat_shared.testing.tokens import TestKeys

LIMIT = 50
P95_MS, MAX_PAGES, RAW_RATIO = 10.0, 600.0, 3.0


def message_model() -> Any:
    """chat-service's Beanie ``Message`` document (imported from the service, so the seeded documents have
    exactly the shape and indexes a send writes)."""
    if str(CHAT_DIR) not in sys.path:
        sys.path.insert(0, str(CHAT_DIR))
    from app.models.message import Message

    return Message


async def seed_documents(db: Any, room: int, members: list[int], count: int) -> None:
    """Insert messages seq 1..count of ``room`` through Beanie into ``db`` (a Motor or mongomock database)."""
    from beanie import init_beanie
    from bson import ObjectId

    message = message_model()
    await init_beanie(database=db, document_models=[message])
    now = datetime.now(UTC)
    for first in range(1, count + 1, 1000):
        docs = []
        for seq in range(first, min(first + 1000, count + 1)):
            oid = ObjectId()
            docs.append(
                message(
                    id=oid,
                    room_id=room,
                    seq=seq,
                    sender_id=members[seq % len(members)],
                    content=f"history message {seq} " + "x" * 60,
                    dedupe_key=f"~{oid}",
                    created_at=now,
                )
            )
        await message.insert_many(docs)


async def seed_http(
    port: int, room: int, members: list[int], headers: dict[int, dict[str, str]], count: int, concurrency: int = 8
) -> None:
    """Send messages seq 1..count through ``POST /rooms/{id}/messages`` (smoke: the mock is in the service)."""
    pool = common.Pool(port, concurrency)
    statuses: dict[int, int] = {}
    try:
        for first in range(0, count, 200):
            raws = [
                common.build(
                    "POST",
                    f"/rooms/{room}/messages",
                    json.dumps({"content": f"history message {i}", "client_msg_id": f"s7-{i}"}).encode(),
                    headers[members[i % len(members)]],
                )
                for i in range(first, min(first + 200, count))
            ]
            for response in await asyncio.gather(*(pool.request(r, 60) for r in raws)):
                statuses[response.status] = statuses.get(response.status, 0) + 1
            print(f"  seeded {min(first + 200, count)}/{count} through the send route", end="\r", flush=True)
    finally:
        pool.close()
    print()
    if statuses != {201: count}:
        raise RuntimeError(f"seeding through the send route failed: statuses {statuses}")


class PageChecker:
    """Checks each history answer: 50 messages of the room, ascending seq B−50..B−1, next_cursor B−50."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.checked = 0
        self.bad: list[str] = []

    def __call__(self, raw: bytes, response: common.Response) -> None:
        """Check one answer (``InspectingPool`` callback)."""
        before = int(raw.split(b" ", 2)[1].rsplit(b"before=", 1)[1])
        self.checked += 1
        problem = None
        if response.status != 200:
            problem = f"status {response.status}"
        else:
            page = json.loads(response.body)
            seqs = [m["seq"] for m in page["items"]]
            cursor = before - LIMIT if before - LIMIT > 1 else None
            if seqs != list(range(before - LIMIT, before)):
                problem = f"seqs {seqs[:3]}…{seqs[-3:]} (expected {before - LIMIT}..{before - 1})"
            elif any(m["room_id"] != self.room for m in page["items"]):
                problem = "a message of another room"
            elif page["next_cursor"] != cursor:
                problem = f"next_cursor {page['next_cursor']} (expected {cursor})"
        if problem is not None:
            self.bad.append(f"before={before}: {problem}")


class RawPages:
    """A ``common.Pool`` stand-in whose 'request' is the repository's page query straight on the driver, so
    ``common.open_loop`` schedules and measures it exactly like the HTTP pages (request = ``b"<before>"``)."""

    def __init__(self, collection: Any, room: int) -> None:
        self.collection = collection
        self.room = room

    async def request(self, raw: bytes) -> common.Response:
        """One page query; 200 when it found a full page."""
        before = int(raw)
        docs = await (
            self.collection.find({"room_id": self.room, "seq": {"$lte": before - 1}})
            .sort("seq", -1)
            .limit(LIMIT)
            .to_list(LIMIT)
        )
        return common.Response(200 if len(docs) == LIMIT else 500, b"", b"")


def page_maker(room: int, messages: int, headers: dict[str, str], rng: random.Random) -> Callable[[], bytes]:
    """Raw GETs of a random full page (B uniform in [51, N+1])."""

    def make() -> bytes:
        return common.build(
            "GET",
            f"/rooms/{room}/messages?limit={LIMIT}&before={rng.randint(LIMIT + 1, messages + 1)}",
            headers=headers,
        )

    return make


def raw_maker(messages: int, rng: random.Random) -> Callable[[], bytes]:
    """The ``before`` of a random full page, as RawPages expects it."""
    return lambda: str(rng.randint(LIMIT + 1, messages + 1)).encode()


async def main() -> int:
    """Run S7; exit 0 when every target passed (smoke: when every page was right), 2 when not measured."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=None, help="messages in the room (10,000; smoke 1,000)")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of the closed loop")
    parser.add_argument("--fetch-wait-ms", type=int, default=500)
    parser.add_argument("--smoke", action="store_true", help="mongomock, correctness only, never recorded")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    target = mongo_target(args.smoke, "bench_chat_s7")
    if target is None:
        print(f"S7: {NOT_MEASURED}")
        return 2
    messages = args.messages or (10_000 if target.real else 1_000)
    load0 = eb.load() if args.smoke else await eb.wait_quiet()
    print(
        f"S7 history [{target.note}]: {messages} messages, load avg {os.getloadavg()} at start, {os.cpu_count()} CPUs",
        flush=True,
    )
    keys = TestKeys()
    url = await databases.create_database("bench_chat_s7")
    broker = Broker().start()
    logdir = Path(tempfile.mkdtemp(prefix="bench-chat-s7-"))
    env = chat_env(url, broker.bootstrap, keys, target, KAFKA_FETCH_MAX_WAIT_MS=str(args.fetch_wait_ms))
    service = eb.ServiceProcess("chat-service", CHAT_DIR, env, logdir)
    many = eb.ServiceProcess(
        f"chat-service-{args.workers}w",
        CHAT_DIR,
        {**env, "RUN_MIGRATIONS_ON_START": "false", "UVICORN_WORKERS": str(args.workers)},
        logdir,
    )
    redis = Redis.from_url(REDIS_URL)
    pool = None
    bench: Bench | None = None
    raw_client: Any = None
    rng = random.Random(7)
    opens: list[common.Result] = []
    raws: list[common.Result] = []
    maxes: list[common.Result] = []
    db_cpu: list[float] = []
    checker: PageChecker | None = None
    idle = idle_many = float("nan")
    max_note = ""
    try:
        await service.start()
        pool = await mysql_pool(url, 4)
        bench = Bench(pool, redis, service, broker)
        rooms = await bench.rooms(1)
        room, members = next(iter(rooms.items()))
        headers = auth_headers(keys, members)
        t0 = time.monotonic()
        if target.real:
            from motor.motor_asyncio import AsyncIOMotorClient

            raw_client = AsyncIOMotorClient(target.url, serverSelectionTimeoutMS=3000, tz_aware=True)
            await seed_documents(raw_client[target.db], room, members, messages)
            async with pool.acquire() as conn, conn.cursor() as cur:
                await cur.execute(
                    "UPDATE rooms SET last_seq = %s, last_activity_at = %s WHERE id = %s",
                    (messages, datetime.now(UTC).replace(tzinfo=None), room),
                )
        else:
            await seed_http(service.port, room, members, headers, messages)
            from mongomock_motor import AsyncMongoMockClient

            raw_client = AsyncMongoMockClient()  # the raw query's stand-in: same documents, in this process
            await seed_documents(raw_client[target.db], room, members, messages)
        print(f"  seeded {messages} messages in {time.monotonic() - t0:.1f} s", flush=True)
        raw_pages = RawPages(raw_client[target.db]["messages"], room)
        checker = PageChecker(room)
        http = InspectingPool(service.port, checker, 64)
        make = page_maker(room, messages, headers[members[0]], rng)
        await asyncio.sleep(1)
        idle = await idle_share(service.pid, min(5.0, args.duration))
        print(
            f"  idle chat-service (1 worker, fetch wait {args.fetch_wait_ms} ms): {idle * 100:.1f} % of a core",
            flush=True,
        )
        await common.open_loop(http, make, args.rate, args.warmup, "warm-up", service.pid)
        await common.open_loop(raw_pages, raw_maker(messages, rng), args.rate, args.warmup, "raw warm-up")
        mysqld = eb.mysqld_pid()
        for run in range(1, args.runs + 1):
            db0 = eb.cpu_seconds(mysqld)
            r = await common.open_loop(
                http, make, args.rate, args.duration, f"page open loop {args.rate:.0f}/s run {run}", service.pid
            )
            db_cpu.append((eb.cpu_seconds(mysqld) - db0) / max(r.count, 1) * 1e6)
            print(f"  [{target.note}]{r.line()} mariadb={db_cpu[-1]:.0f} CPU-µs/page load={eb.load():.2f}", flush=True)
            opens.append(r)
            q = await common.open_loop(
                raw_pages,
                raw_maker(messages, rng),
                args.rate,
                args.duration,
                f"raw driver query {args.rate:.0f}/s run {run}",
            )
            print(f"  [{target.note}]{q.line()} (client = the driver's CPU per query)", flush=True)
            raws.append(q)
        http.close()
        print(
            f"  [{target.note}] pages checked {checker.checked}, wrong {len(checker.bad)}"
            + (f": {checker.bad[:5]}" if checker.bad else ""),
            flush=True,
        )

        closed = service
        if target.real:
            service.stop()  # one set of processes at a time on 2 cores
            await many.start()
            await asyncio.sleep(3)  # both workers through their lifespan
            closed = many
            idle_many = await idle_share(many.pid, min(5.0, args.duration))
            max_note = f"{args.workers} workers"
        else:
            idle_many = idle
            max_note = "1 worker: each worker would hold its own mongomock"
        await common.closed_loop(closed.port, make, args.connections, args.warmup, "closed warm-up")
        for run in range(1, args.runs + 1):
            cpu0 = tree_cpu_seconds(closed.pid)
            r = await common.closed_loop(
                closed.port,
                make,
                args.connections,
                args.duration,
                f"page max, closed loop {args.connections} conns, {max_note}, run {run}",
            )
            r.server_cpu_s = tree_cpu_seconds(closed.pid) - cpu0
            print(f"  [{target.note}]{r.line()} load={eb.load():.2f}", flush=True)
            maxes.append(r)
    finally:
        many.stop()
        service.stop()
        broker.stop()
        await close_pool(pool)
        if bench is not None:  # the smoke's sends fanned out to these members' logs
            await bench.delete_streams()
        await redis.aclose()
        if raw_client is not None and target.real:
            raw_client.close()
        await databases.drop_database(url)
        await drop_mongo(target)

    assert checker is not None
    note = f" ({args.runs}×{args.duration:.0f} s; {messages} messages; load avg {load0:.1f} at start, {eb.load():.1f} at end)"
    p95 = [r.pct(0.95) for r in opens]
    raw95 = [q.pct(0.95) for q in raws]
    ratio = eb.med(p95) / eb.med(raw95) if raws else float("nan")
    errors = sum(r.errors((200,)) for r in opens)
    total = sum(r.count for r in opens)
    pages_ok = not checker.bad and errors <= 0.001 * max(total, 1)
    max_errors = sum(r.errors((200,)) for r in maxes)
    max_total = sum(r.count for r in maxes)
    rows = [
        (
            f"history page open loop {args.rate:.0f} req/s, limit={LIMIT}, 1 worker{note}",
            *eb.nxr_cells(opens, r_fmt="{:.2f}"),
            f"p95 {eb.ms(p95, '{:.2f}')} / {P95_MS:.0f} ms = {eb.med(p95) * 1e3 / P95_MS:.2f}",
            "PASS" if eb.med(p95) * 1e3 <= P95_MS and pages_ok else "FAIL",
            f"p50 {eb.ms([r.pct(0.5) for r in opens], '{:.2f}')}, p99 {eb.ms([r.pct(0.99) for r in opens], '{:.2f}')}; "
            f"errors {errors}/{total}; pages checked {checker.checked}, wrong {len(checker.bad)}; CPU-µs/page "
            f"chat-service {eb.spread([r.cpu_us_per_op() for r in opens], '{:.0f}')}, mariadb "
            f"{eb.spread(db_cpu, '{:.0f}')}; idle chat-service {idle * 100:.1f} % of a core; client "
            f"{eb.spread([r.client_cpu_s / max(r.count, 1) * 1e6 for r in opens], '{:.0f}')} CPU-µs/page",
        ),
        (
            f"raw driver query (Motor find, same filter/sort/limit) open loop {args.rate:.0f}/s{note}",
            *eb.nxr_cells(raws, r_fmt="{:.2f}"),
            f"page p95 / raw p95 = {ratio:.2f} (≤ {RAW_RATIO:.0f})",
            "PASS" if ratio <= RAW_RATIO else "FAIL",
            f"raw p50 {eb.ms([q.pct(0.5) for q in raws], '{:.2f}')}, p95 {eb.ms(raw95, '{:.2f}')}; driver "
            f"{eb.spread([q.client_cpu_s / max(q.count, 1) * 1e6 for q in raws], '{:.0f}')} CPU-µs/query in the bench",
        ),
        (
            f"history page max, closed loop {args.connections} conns, {max_note}{note}",
            *eb.nxr_cells(maxes, r_fmt="{:.2f}"),
            f"{eb.med([r.x for r in maxes]) / MAX_PAGES:.2f} × {MAX_PAGES:.0f}/s",
            "PASS" if eb.med([r.x for r in maxes]) >= MAX_PAGES and max_errors <= 0.001 * max(max_total, 1) else "FAIL",
            f"p50 {eb.ms([r.pct(0.5) for r in maxes], '{:.2f}')}, p99 {eb.ms([r.pct(0.99) for r in maxes], '{:.2f}')}; errors "
            f"{max_errors}/{max_total}; CPU-µs/page (all workers) {eb.spread([r.cpu_us_per_op() for r in maxes], '{:.0f}')};"
            f" idle {idle_many * 100:.1f} % of a core; client "
            f"{eb.spread([r.client_cpu_s / max(r.count, 1) * 1e6 for r in maxes], '{:.0f}')} CPU-µs/page",
        ),
    ]
    rows = print_rows(rows, target)
    print(
        f"[{target.note}] correctness: {'OK' if pages_ok else 'FAILED'} ({checker.checked} pages checked: "
        f"50 messages each, ascending seq, right next_cursor; {len(checker.bad)} wrong)"
    )
    if target.real and not args.no_record:
        eb.record("S7", "S7 — history page", eb.section_doc(__doc__), rows)
    print(f"logs in {logdir}")
    if not target.real:
        return 0 if pages_ok else 1
    return 0 if all(r[6] == "PASS" for r in rows) else 1


if __name__ == "__main__":
    import uvloop

    sys.exit(uvloop.run(main()))
