"""What the chat-service benchmarks share (``chat_*.py`` here, except the stand-alone S5).

The service under test: its directory, its environment (``chat_env``, Redis db 14) and the measuring rule
on MongoDB (``mongo_target``: a real MongoDB from ``MONGO_URL``, mongomock only for ``--smoke``, otherwise
"not measured here"). Set-up straight into its MySQL tables (``mysql_pool``, ``insert_group_room``) and
bearer headers for its members. The client side: ``InspectingPool`` (``common.Pool`` that shows each answer
to a checker) and ``SSEStream``, our own asyncio client of ``GET /stream`` on raw sockets, which timestamps
every frame when its bytes are read. Process-tree CPU for services run with several uvicorn workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import cast

import aiomysql
import common
import eventbench as eb
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from chat_shared.testing.tokens import TestKeys

CHAT_DIR = eb.ROOT / "services" / "chat-service"
REDIS_URL = "redis://127.0.0.1:6379/14"
TOKEN_TTL_S = 4 * 3600  # a full run (warm-ups, 3 windows per rate or mode, seeding) outlives the default 15 min

SMOKE_LABEL = "smoke on mongomock — not performance"
REAL_MONGO = ("mongodb://", "mongodb+srv://")
NOT_MEASURED = (
    "not measured here: MONGO_URL does not point at a real MongoDB (mongodb://…), and figures "
    "measured on mongomock are not performance (docs/performance.md). Set MONGO_URL, or run with --smoke "
    "for a correctness check on mongomock (never recorded)."
)


# --------------------------------------------------------------------------- the service


@dataclass(frozen=True)
class MongoTarget:
    """Where chat-service keeps its messages during a benchmark."""

    url: str
    db: str
    real: bool

    @property
    def note(self) -> str:
        """The label every printed figure carries."""
        return "real MongoDB" if self.real else SMOKE_LABEL


def mongo_target(smoke: bool, prefix: str) -> MongoTarget | None:
    """The rule on MongoDB: a real MongoDB from ``MONGO_URL`` (scratch database ``prefix_…``), or
    mongomock for ``--smoke``; None when neither applies (the caller says "not measured here")."""
    if smoke:
        return MongoTarget("mongomock://", "chat", real=False)
    url = os.environ.get("MONGO_URL", "")
    if url.startswith(REAL_MONGO):
        return MongoTarget(url, f"{prefix}_{uuid.uuid4().hex[:8]}", real=True)
    return None


async def drop_mongo(target: MongoTarget | None) -> None:
    """Drop the scratch database of a real MongoDB (mongomock lives and dies with the service process)."""
    if target is None or not target.real:
        return
    from motor.motor_asyncio import AsyncIOMotorClient

    client: AsyncIOMotorClient = AsyncIOMotorClient(target.url, serverSelectionTimeoutMS=3000)
    try:
        await client.drop_database(target.db)
    finally:
        client.close()


def chat_env(
    database_url: str, bootstrap: str, keys: TestKeys, mongo: MongoTarget | None = None, **extra: str
) -> dict[str, str]:
    """chat-service's environment in these benchmarks, plus ``extra`` (added, or overriding a default).

    ``mongo`` None is for the scripts whose measurement never touches Mongo: ``MONGO_URL=mongomock://``
    and no ``MONGO_DB`` (the service's default).
    """
    env = {
        "ENVIRONMENT": "development",
        "DATABASE_URL": database_url,
        "RUN_MIGRATIONS_ON_START": "true",
        "REDIS_URL": REDIS_URL,
        "MONGO_URL": mongo.url if mongo is not None else "mongomock://",
    }
    if mongo is not None:
        env["MONGO_DB"] = mongo.db
    env.update(
        {
            "KAFKA_BOOTSTRAP": bootstrap,
            "KAFKA_ENABLE_IDEMPOTENCE": "false",
            "LOG_LEVEL": "WARNING",
            "JWT_PUBLIC_KEY": keys.public_pem,
            "JWT_PUBLIC_KEY_ID": keys.kid,
        }
    )
    env.update(extra)
    return env


def auth_headers(keys: TestKeys, users: Iterable[int]) -> dict[int, dict[str, str]]:
    """Each user's headers for the JSON routes: a bearer token valid for the whole run."""
    return {
        u: {"Authorization": f"Bearer {keys.token(u, ttl_s=TOKEN_TTL_S)}", "Content-Type": "application/json"}
        for u in users
    }


# --------------------------------------------------------------------------- MySQL set-up


async def mysql_pool(url: str, size: int = 8) -> aiomysql.Pool:
    """An autocommit aiomysql pool on the scratch database (for the set-up inserts)."""
    u = make_url(url)
    return await aiomysql.create_pool(
        host=u.host,
        port=u.port or 3306,
        user=u.username,
        password=u.password or "",
        db=u.database,
        autocommit=True,
        maxsize=size,
    )


async def close_pool(pool: aiomysql.Pool | None) -> None:
    """Close a ``mysql_pool`` (None: it was never opened)."""
    if pool is not None:
        pool.close()
        await pool.wait_closed()


async def insert_group_room(cur: aiomysql.Cursor, name: str, members: list[int], now: datetime) -> int:
    """A group room created by ``members[0]`` with ``members`` in it, straight into ``rooms``/``room_members``
    (a group send checks only membership, so no friendships are needed); returns its id."""
    await cur.execute(
        "INSERT INTO rooms (type, name, created_by, last_seq, created_at, last_activity_at)"
        " VALUES ('group', %s, %s, 0, %s, %s)",
        (name, members[0], now, now),
    )
    room = int(cur.lastrowid)
    await cur.executemany(
        "INSERT INTO room_members (room_id, user_id, last_read_seq, joined_at) VALUES (%s, %s, 0, %s)",
        [(room, m, now) for m in members],
    )
    return room


# --------------------------------------------------------------------------- process CPU


async def user_log(redis: Redis, user: int) -> list[tuple[bytes, bytes]]:
    """(entry id, SSE data) of every entry of a user's live log; each entry references its event's body in
    ``chat:events`` (``<event> <t> <data>``), read back in one pipeline. A body that is gone gives ``{}``."""
    raw = cast(list[tuple[bytes, dict[bytes, bytes]]], await redis.xrange(f"stream:user:{user}"))
    pipe = redis.pipeline(transaction=False)
    for _, fields in raw:
        pipe.xrange("chat:events", fields[b"r"], fields[b"r"])
    bodies = cast(list[list[tuple[bytes, dict[bytes, bytes]]]], await pipe.execute()) if raw else []
    return [
        (entry_id, body[0][1][b"b"].split(b" ", 2)[2] if body else b"{}")
        for (entry_id, _), body in zip(raw, bodies, strict=True)
    ]


def children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (uvicorn's workers under ``--workers``)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def tree_cpu_seconds(pid: int | None) -> float:
    """CPU seconds of a process and its live descendants: a supervisor's own time is only part of it."""
    if pid is None:
        return 0.0
    return eb.cpu_seconds(pid) + sum(tree_cpu_seconds(c) for c in children(pid))


async def idle_share(pid: int | None, seconds: float) -> float:
    """Fraction of a core the process (tree) uses while nothing is sent: consumers polling, heartbeats."""
    cpu0, t0 = tree_cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return (tree_cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)


# --------------------------------------------------------------------------- clients


class InspectingPool(common.Pool):
    """``common.Pool`` that shows every answer to ``inspect(raw request, response)`` (acknowledged seqs,
    page checks) while ``common.open_loop`` keeps the schedule and the figures."""

    def __init__(self, port: int, inspect: Callable[[bytes, common.Response], None], size: int = 256) -> None:
        super().__init__(port, size)
        self.inspect = inspect

    async def request(self, raw: bytes, timeout: float = common.TIMEOUT_S) -> common.Response:
        """Send one request on a pooled connection and show its answer to ``inspect``."""
        response = await super().request(raw, timeout)
        self.inspect(raw, response)
        return response


def request_body(raw: bytes) -> bytes:
    """The body of a raw request built by ``common.build``."""
    return raw[raw.index(b"\r\n\r\n") + 4 :]


class StreamRefused(Exception):
    """``GET /stream`` answered with something other than 200."""

    def __init__(self, status: int, head: bytes) -> None:
        super().__init__(f"stream refused: {status}")
        self.status = status
        self.head = head


class SSEStream:
    """One ``GET /stream`` on a raw socket: decodes HTTP chunked framing, splits SSE frames.

    uvicorn sends each ASGI body message as one HTTP chunk and the hub writes one frame per message, so a
    frame's arrival time is the time its chunk was read.
    """

    CONNECTED = b": connected\n\n"

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, chunked: bool) -> None:
        self.reader = reader
        self.writer = writer
        self.chunked = chunked
        self.buffer = b""

    @classmethod
    async def connect(cls, port: int, token: str, last_event_id: str | None = None) -> SSEStream:
        """Open the stream and read until the ``: connected`` comment (the first body bytes)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            resume = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id else ""
            writer.write(
                f"GET /stream HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n{resume}\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            if status != 200:
                raise StreamRefused(status, head)
            stream = cls(reader, writer, b"transfer-encoding: chunked" in head.lower())
            while cls.CONNECTED not in stream.buffer:
                stream.buffer += await stream.read_body()
            stream.buffer = stream.buffer.split(cls.CONNECTED, 1)[1]
            return stream
        except BaseException:
            writer.close()
            raise

    async def read_body(self) -> bytes:
        """The next piece of the response body; raises ``IncompleteReadError`` at its end."""
        if not self.chunked:
            data = await self.reader.read(65536)
            if not data:
                raise asyncio.IncompleteReadError(b"", None)
            return data
        size = int((await self.reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            raise asyncio.IncompleteReadError(b"", None)
        return (await self.reader.readexactly(size + 2))[:-2]

    async def run(self, on_frame: Callable[[bytes, float], None]) -> None:
        """Hand every frame (without its blank line) and the time it was read to ``on_frame``, until the
        server ends the stream or the connection drops (whatever was not delivered then counts as lost)."""
        with contextlib.suppress(asyncio.IncompleteReadError, OSError):
            while True:
                if b"\n\n" in self.buffer:
                    now = time.perf_counter()
                    *frames, self.buffer = self.buffer.split(b"\n\n")
                    for frame in frames:
                        on_frame(frame, now)
                self.buffer += await self.read_body()

    def close(self) -> None:
        """Drop the connection (the server sees the client go away)."""
        self.writer.close()


async def open_streams(port: int, tokens: list[str], batch: int = 100) -> list[SSEStream]:
    """Open one stream per token, ``batch`` at a time (a storm of thousands would time out the accept)."""
    streams: list[SSEStream] = []
    for i in range(0, len(tokens), batch):
        streams += await asyncio.gather(
            *(asyncio.wait_for(SSEStream.connect(port, t), 30) for t in tokens[i : i + batch])
        )
    return streams


# --------------------------------------------------------------------------- results


def print_rows(rows: list[tuple[str, ...]], target: MongoTarget) -> list[tuple[str, ...]]:
    """Print the result rows with the target's label, and return them as printed: on mongomock each
    verdict reads "smoke: no verdict" (one against the targets would be read as one)."""
    if not target.real:
        rows = [(*r[:6], "smoke: no verdict", *r[7:]) for r in rows]
    for r in rows:
        print(f"[{target.note}] " + " | ".join(r), flush=True)
    return rows
