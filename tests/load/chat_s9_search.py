"""S9 — message search (CONTRACT §8) over 1 M messages in 1,000 rooms of mixed Latin and Hangul text: p95 at
50 req/s, and how soon an edit is found.

    uv run --frozen python tests/load/chat_s9_search.py [--rooms 1000] [--messages 1000000] [--rate 50] [--duration 30] [--runs 3] [--no-record]
    uv run --frozen python tests/load/chat_s9_search.py --smoke      # no real MongoDB: correctness only

**Real MongoDB only.** Without `MONGO_URL=mongodb://…` in the environment the script prints "not measured
here" and exits 2 (mongomock figures are not performance: docs/performance.md). `--smoke` runs the same
code against `MONGO_URL=mongomock://` in the service (10 rooms, 400 messages sent through the real send
route), checks every answer, labels every figure "smoke on mongomock — not performance" and never writes a
result row. With a real MongoDB the service gets a scratch database (`MONGO_DB=bench_chat_s9_…`, dropped at
the end).

Starts a scratch MariaDB database, a Tansu broker and chat-service as a real process (uvicorn, migrations on
start, Redis db 14). `--rooms` group rooms of 10 members are inserted into `rooms`/`room_members`, drawn
from a pool of `rooms / 2` users so each user is a member of 20 rooms (the cross-room search merges 20
rooms). The messages (`--messages`, evenly over the rooms; 4–10 words each, half Latin and half Hangul
words from a fixed vocabulary) are inserted straight into MongoDB with exactly the fields and 2-grams a send
writes (the service's own `Message` document and `grams` function), `rooms.last_seq` set to match.

* **Latency**: open loop at `--rate` (50/s), one query per request from a random member: half
  `GET /messages/search` (the member's 20 rooms), half `GET /rooms/{id}/messages/search` (one of them);
  `q` half a 3–5 letter piece of a Latin word in a random case, half a 2-syllable piece of a Hangul word;
  `limit=20`. Every answer checked: 200, each hit's text contains `q` (case-folded), each hit in one of the
  asked rooms, newest first. Target p95 ≤ 50 ms. Chat-service CPU-µs per search.
* **Edit → searchable**: `--edits` (20) times, one member edits a random message to hold a fresh token, then
  searches the room for the token until it is found; the time from sending the edit to the first answer
  that holds it. Target ≤ 1 s for every edit.
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
import unicodedata
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common
import eventbench as eb
from chatbench import (
    CHAT_DIR,
    NOT_MEASURED,
    InspectingPool,
    auth_headers,
    chat_env,
    close_pool,
    drop_mongo,
    insert_group_room,
    mongo_target,
    mysql_pool,
    print_rows,
)

from chat_shared.testing import databases
from chat_shared.testing.broker import Broker
from chat_shared.testing.tokens import TestKeys

MEMBERS, ROOMS_PER_USER, LIMIT = 10, 20, 20
P95_MS, EDIT_S = 50.0, 1.0
LATIN = [
    "hello",
    "world",
    "morning",
    "coffee",
    "meeting",
    "project",
    "deadline",
    "weekend",
    "travel",
    "ticket",
    "budget",
    "review",
    "design",
    "launch",
    "server",
    "update",
    "release",
    "football",
    "concert",
    "dinner",
    "weather",
    "holiday",
    "station",
    "library",
    "garden",
    "window",
    "message",
]
HANGUL = [
    "안녕하세요",
    "감사합니다",
    "회의실",
    "프로젝트",
    "주말여행",
    "커피한잔",
    "점심시간",
    "마감일정",
    "서버점검",
    "업데이트",
    "도서관",
    "정원가꾸기",
    "창문열기",
    "메시지",
    "날씨예보",
    "휴가계획",
    "기차역",
    "저녁식사",
    "축구경기",
    "음악회",
]


def fold(text: str) -> str:
    """The service's normal form (app.services.text.fold), for checking answers."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def service_text() -> Any:
    """chat-service's text module and Message document, so seeded documents are what a send writes."""
    if str(CHAT_DIR) not in sys.path:
        sys.path.insert(0, str(CHAT_DIR))
    from app.models.message import Message
    from app.services import text

    return text, Message


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(LATIN if rng.random() < 0.5 else HANGUL) for _ in range(rng.randint(4, 10)))


def query(rng: random.Random) -> str:
    """A piece of a vocabulary word: 3–5 Latin letters in a random case, or 2 Hangul syllables."""
    if rng.random() < 0.5:
        word = rng.choice(LATIN)
        size = min(len(word), rng.randint(3, 5))
        start = rng.randint(0, len(word) - size)
        return "".join(c.upper() if rng.random() < 0.3 else c for c in word[start : start + size])
    word = rng.choice(HANGUL)
    start = rng.randint(0, len(word) - 2)
    return word[start : start + 2]


async def insert_rooms(pool: Any, rooms: int) -> dict[int, list[int]]:
    """``rooms`` group rooms of MEMBERS members from a pool of users, each in ROOMS_PER_USER rooms."""
    users = max(MEMBERS, rooms * MEMBERS // ROOMS_PER_USER)
    base = random.randint(10, 90) * 10_000_000
    now = datetime.now(UTC).replace(tzinfo=None)
    out: dict[int, list[int]] = {}
    async with pool.acquire() as conn, conn.cursor() as cur:
        for r in range(rooms):
            members = sorted({base + (r * MEMBERS + k) % users for k in range(MEMBERS)})
            out[await insert_group_room(cur, "s9", members, now)] = members
    return out


async def seed_documents(
    db: Any, rooms: dict[int, list[int]], per_room: int, rng: random.Random
) -> dict[int, list[str]]:
    """Insert ``per_room`` messages into each room straight into MongoDB; the message ids by room."""
    from beanie import init_beanie
    from bson import ObjectId

    text, message = service_text()
    await init_beanie(database=db, document_models=[message])  # the service's indexes
    collection = db["messages"]
    start = datetime.now(UTC) - timedelta(days=30)
    ids: dict[int, list[str]] = {r: [] for r in rooms}
    batch: list[dict[str, Any]] = []
    total, done = len(rooms) * per_room, 0
    for seq in range(1, per_room + 1):
        for room, members in rooms.items():
            oid = ObjectId()
            content = sentence(rng)
            ids[room].append(str(oid))
            done += 1
            batch.append(
                {
                    "_id": oid,
                    "room_id": room,
                    "seq": seq,
                    "sender_id": members[seq % len(members)],
                    "content": content,
                    "message_type": "text",
                    "client_msg_id": None,
                    "dedupe_key": f"~{oid}",
                    "created_at": start + timedelta(milliseconds=done),
                    "edited_at": None,
                    "deleted": False,
                    "reactions": [],
                    "version": 1,
                    "reply_to": None,
                    "mentions": [],
                    "grams": text.grams(content),
                }
            )
            if len(batch) == 5000:
                await collection.insert_many(batch, ordered=False)
                batch = []
                print(f"  seeded {done}/{total}", end="\r", flush=True)
    if batch:
        await collection.insert_many(batch, ordered=False)
    print()
    return ids


async def seed_http(
    port: int, rooms: dict[int, list[int]], per_room: int, headers: dict[int, dict[str, str]], rng: random.Random
) -> dict[int, list[str]]:
    """Send ``per_room`` messages into each room through the send route (smoke: the mock is in the service)."""
    pool = common.Pool(port, 8)
    ids: dict[int, list[str]] = {r: [] for r in rooms}
    try:
        for room, members in rooms.items():
            raws = [
                common.build(
                    "POST",
                    f"/rooms/{room}/messages",
                    json.dumps({"content": sentence(rng)}).encode(),
                    headers[members[(i + 1) % len(members)]],  # the sender seed_documents gives seq i + 1
                )
                for i in range(per_room)
            ]
            for response in await asyncio.gather(*(pool.request(r, 60) for r in raws)):
                if response.status != 201:
                    raise RuntimeError(
                        f"seeding through the send route failed: {response.status} {response.body[:200]!r}"
                    )
                ids[room].append(json.loads(response.body)["id"])
    finally:
        pool.close()
    return ids


async def set_last_seqs(pool: Any, rooms: dict[int, list[int]], per_room: int) -> None:
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.executemany("UPDATE rooms SET last_seq = %s WHERE id = %s", [(per_room, r) for r in rooms])


class SearchChecker:
    """Checks each answer: 200, every hit holds ``q`` and is in an asked room, newest first."""

    def __init__(self, rooms_of: dict[int, list[int]], headers: dict[int, dict[str, str]]) -> None:
        self.rooms_of = rooms_of
        self.user_of = {h["Authorization"].encode(): user for user, h in headers.items()}
        self.checked = self.hits = 0
        self.bad: list[str] = []

    def __call__(self, raw: bytes, response: common.Response) -> None:
        target = raw.split(b" ", 2)[1].decode()
        path, _, query_string = target.partition("?")
        params = urllib.parse.parse_qs(query_string)
        q = params["q"][0]
        authorization = raw.split(b"\r\nAuthorization: ", 1)[1].split(b"\r\n", 1)[0]
        user = self.user_of[authorization]
        allowed = set(self.rooms_of[user]) if path == "/messages/search" else {int(path.split("/")[2])}
        self.checked += 1
        problem = None
        if response.status != 200:
            problem = f"status {response.status}"
        else:
            items = json.loads(response.body)["items"]
            self.hits += len(items)
            times = [hit["message"]["created_at"] for hit in items]
            if any(fold(q) not in fold(hit["message"]["content"] or "") for hit in items):
                problem = "a hit without q"
            elif any(hit["room_id"] not in allowed for hit in items):
                problem = "a hit outside the asked rooms"
            elif times != sorted(times, reverse=True):
                problem = "not newest first"
        if problem is not None:
            self.bad.append(f"{target}: {problem}")


def search_maker(rooms_of: dict[int, list[int]], headers: dict[int, dict[str, str]], rng: random.Random) -> Any:
    users = sorted(rooms_of)

    def make() -> bytes:
        user = rng.choice(users)
        params = urllib.parse.urlencode({"q": query(rng), "limit": LIMIT})
        if rng.random() < 0.5:
            path = f"/messages/search?{params}"
        else:
            path = f"/rooms/{rng.choice(rooms_of[user])}/messages/search?{params}"
        return common.build("GET", path, headers=headers[user])

    return make


async def edit_visibility(
    port: int,
    rooms: dict[int, list[int]],
    ids: dict[int, list[str]],
    per_room: int,
    headers: dict[int, dict[str, str]],
    edits: int,
    rng: random.Random,
) -> list[float]:
    """Seconds from sending an edit to the first search answer that finds it, per edit."""
    pool = common.Pool(port, 4)
    waits: list[float] = []
    try:
        for _ in range(edits):
            room = rng.choice(sorted(rooms))
            index = rng.randrange(per_room)
            sender = rooms[room][(index + 1) % len(rooms[room])]  # seq = index + 1 was sent by members[seq % n]
            token = f"edit{uuid.uuid4().hex[:10]}"
            started = time.perf_counter()
            edit = common.build(
                "PATCH",
                f"/rooms/{room}/messages/{ids[room][index]}",
                json.dumps({"content": f"{token} 수정됨"}).encode(),
                headers[sender],
            )
            answer = await pool.request(edit)
            if answer.status != 200:
                raise RuntimeError(f"edit answered {answer.status}: {answer.body[:200]!r}")
            search = common.build("GET", f"/rooms/{room}/messages/search?q={token}", headers=headers[sender])
            while True:
                found = await pool.request(search)
                if found.status == 200 and json.loads(found.body)["items"]:
                    waits.append(time.perf_counter() - started)
                    break
                if time.perf_counter() - started > 10:
                    waits.append(float("inf"))
                    break
    finally:
        pool.close()
    return waits


async def main() -> int:
    """Run S9; exit 0 when every target passed (smoke: when every answer was right), 2 when not measured."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rooms", type=int, default=None, help="rooms (1,000; smoke 10)")
    parser.add_argument("--messages", type=int, default=None, help="messages in all (1,000,000; smoke 400)")
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help="mongomock, correctness only, never recorded")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    target = mongo_target(args.smoke, "bench_chat_s9")
    if target is None:
        print(f"S9: {NOT_MEASURED}")
        return 2
    room_count = args.rooms or (1000 if target.real else 10)
    per_room = max(1, (args.messages or (1_000_000 if target.real else 400)) // room_count)
    load0 = eb.load() if args.smoke else await eb.wait_quiet()
    print(
        f"S9 search [{target.note}]: {room_count} rooms × {per_room} messages, load avg {os.getloadavg()} at start",
        flush=True,
    )
    keys = TestKeys()
    url = await databases.create_database("bench_chat_s9")
    broker = Broker().start()
    logdir = Path(tempfile.mkdtemp(prefix="bench-chat-s9-"))
    service = eb.ServiceProcess("chat-service", CHAT_DIR, chat_env(url, broker.bootstrap, keys, target), logdir)
    pool = None
    rng = random.Random(9)
    opens: list[common.Result] = []
    waits: list[float] = []
    checker: SearchChecker | None = None
    rooms_of: dict[int, list[int]] = {}
    try:
        await service.start()
        pool = await mysql_pool(url, 4)
        rooms = await insert_rooms(pool, room_count)
        for room, members in rooms.items():
            for m in members:
                rooms_of.setdefault(m, []).append(room)
        headers = auth_headers(keys, rooms_of)
        t0 = time.monotonic()
        if target.real:
            from motor.motor_asyncio import AsyncIOMotorClient

            client = AsyncIOMotorClient(target.url, serverSelectionTimeoutMS=3000, tz_aware=True)
            try:
                ids = await seed_documents(client[target.db], rooms, per_room, rng)
            finally:
                client.close()
            await set_last_seqs(pool, rooms, per_room)
        else:
            ids = await seed_http(service.port, rooms, per_room, headers, rng)
        print(f"  seeded {room_count * per_room} messages in {time.monotonic() - t0:.1f} s", flush=True)
        checker = SearchChecker(rooms_of, headers)
        http = InspectingPool(service.port, checker, 64)
        make = search_maker(rooms_of, headers, rng)
        await common.open_loop(http, make, args.rate, args.warmup, "warm-up", service.pid)
        for run in range(1, args.runs + 1):
            r = await common.open_loop(
                http, make, args.rate, args.duration, f"search open loop {args.rate:.0f}/s run {run}", service.pid
            )
            print(f"  [{target.note}]{r.line()} load={eb.load():.2f}", flush=True)
            opens.append(r)
        http.close()
        waits = await edit_visibility(service.port, rooms, ids, per_room, headers, args.edits, rng)
        print(
            f"  [{target.note}] answers checked {checker.checked}, hits {checker.hits}, wrong {len(checker.bad)}"
            + (f": {checker.bad[:5]}" if checker.bad else ""),
            flush=True,
        )
    finally:
        service.stop()
        broker.stop()
        await close_pool(pool)
        await databases.drop_database(url)
        await drop_mongo(target)

    assert checker is not None
    note = f" ({args.runs}×{args.duration:.0f} s; {room_count} rooms × {per_room} messages; load avg {load0:.1f} at start, {eb.load():.1f} at end)"
    p95 = [r.pct(0.95) for r in opens]
    errors = sum(r.errors((200,)) for r in opens)
    total = sum(r.count for r in opens)
    answers_ok = not checker.bad and errors <= 0.001 * max(total, 1)
    waits.sort()
    spread = len(rooms_of[min(rooms_of)]) if rooms_of else 0
    worst = waits[-1] if waits else float("nan")
    rows = [
        (
            f"search open loop {args.rate:.0f} req/s, limit={LIMIT}, half across a member's {spread} rooms, 1 worker{note}",
            *eb.nxr_cells(opens, r_fmt="{:.2f}"),
            f"p95 {eb.ms(p95, '{:.1f}')} / {P95_MS:.0f} ms = {eb.med(p95) * 1e3 / P95_MS:.2f}",
            "PASS" if eb.med(p95) * 1e3 <= P95_MS and answers_ok else "FAIL",
            f"p50 {eb.ms([r.pct(0.5) for r in opens], '{:.1f}')}, p99 {eb.ms([r.pct(0.99) for r in opens], '{:.1f}')}; "
            f"errors {errors}/{total}; answers checked {checker.checked}, hits {checker.hits}, wrong {len(checker.bad)}; "
            f"CPU-µs/search chat-service {eb.spread([r.cpu_us_per_op() for r in opens], '{:.0f}')}",
        ),
        (
            f"edit → found by search, {len(waits)} edits{note}",
            "–",
            "–",
            f"{waits[len(waits) // 2] * 1e3:.1f} ms median" if waits else "–",
            "–",
            f"worst {worst * 1e3:.1f} ms / {EDIT_S * 1e3:.0f} ms",
            "PASS" if worst <= EDIT_S else "FAIL",
            "time from sending the edit to the first search answer holding its token",
        ),
    ]
    rows = print_rows(rows, target)
    print(f"[{target.note}] correctness: {'OK' if answers_ok and worst <= 10 else 'FAILED'}")
    if target.real and not args.no_record:
        eb.record("S9", "S9 — message search", eb.section_doc(__doc__), rows)
    print(f"logs in {logdir}")
    if not target.real:
        return 0 if answers_ok and worst <= 10 else 1
    return 0 if all(r[6] == "PASS" for r in rows) else 1


if __name__ == "__main__":
    import uvloop

    sys.exit(uvloop.run(main()))
