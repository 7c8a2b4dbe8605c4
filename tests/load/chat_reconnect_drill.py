"""Kill the worker holding the streams: every client back within 15 s, nothing lost or repeated.

    uv run --frozen python tests/load/chat_reconnect_drill.py [--streams 5000] [--messages 20] [--no-record]

Two chat-service processes share MySQL, Redis and the broker. N clients (100 room members × N/100 devices)
hold their streams on process A and record every ``id:`` they receive. A is killed with SIGKILL; each
client then reconnects to process B with ``Last-Event-ID`` (as EventSource does after a dropped
connection). Messages are sent (outbox rows, as committed sends leave them) before the kill and while A is
down. Pass: every client reconnected within 15 s, and every client received every message exactly once, in
send order.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import eventbench as eb
from chat_s6_broadcast import MEMBERS, make_room
from chat_s8_fanout import INSERT, outbox_row
from chatbench import CHAT_DIR, chat_env, close_pool, mysql_pool

from chat_shared.testing import databases
from chat_shared.testing.broker import Broker
from chat_shared.testing.tokens import TestKeys


class Client:
    """One device: an SSE stream that follows its ids and reconnects with Last-Event-ID."""

    def __init__(self, token: str, port: int) -> None:
        self.token = token
        self.port = port
        self.last_id = ""
        self.markers: list[str] = []
        self.connected = False
        self.dropped_at: float | None = None
        self.back_after: float | None = None

    async def run(self, failover_port: int, stop: asyncio.Event) -> None:
        port = self.port
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                port = failover_port
                await asyncio.sleep(0.2)
                continue
            resume = f"Last-Event-ID: {self.last_id}\r\n" if self.last_id else ""
            writer.write(
                f"GET /stream HTTP/1.1\r\nHost: drill\r\nAuthorization: Bearer {self.token}\r\n{resume}\r\n".encode()
            )
            try:
                await reader.readuntil(b": connected\n\n")
                self.connected = True
                if self.dropped_at is not None and self.back_after is None:
                    self.back_after = time.monotonic() - self.dropped_at
                while line := await reader.readline():
                    text = line.decode()
                    if text.startswith("id: "):
                        self.last_id = text[4:].strip()
                    elif text.startswith("data: ") and "bench drill" in text:
                        self.markers.append(text.split('"content":"bench ', 1)[1].split('"', 1)[0])
            except (OSError, asyncio.IncompleteReadError):
                pass
            writer.close()
            if self.dropped_at is None:
                self.dropped_at = time.monotonic()
            port = failover_port


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    await eb.wait_quiet()
    keys = TestKeys()
    url = await databases.create_database("bench_chat_drill")
    broker = Broker().start()
    logdir = Path(tempfile.mkdtemp(prefix="bench-chat-drill-"))
    # the outbox rows are inserted from outside, so nothing wakes the relay: it polls (every 50 ms here)
    env = chat_env(url, broker.bootstrap, keys, OUTBOX_POLL_INTERVAL_S="0.05")
    a = eb.ServiceProcess("chat-a", CHAT_DIR, env, logdir)
    b = eb.ServiceProcess("chat-b", CHAT_DIR, env, logdir)
    pool = None
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        await a.start()
        await b.start()
        pool = await mysql_pool(url, 4)
        room, members = await make_room(pool, 30_000_000)
        clients = [Client(keys.token(members[i % MEMBERS]), a.port) for i in range(args.streams)]
        tasks = [asyncio.create_task(c.run(b.port, stop)) for c in clients]
        sent: list[str] = []
        deadline = time.monotonic() + 120
        while not all(c.connected for c in clients) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)

        async def send(seq: int) -> None:
            marker = f"drill{seq:04d}{uuid.uuid4().hex[:6]}"
            sent.append(marker)
            async with pool.acquire() as conn, conn.cursor() as cur:  # type: ignore[union-attr]
                await cur.execute(INSERT, outbox_row(room, seq, members[0], marker, time.time()))

        async def everyone_has(count: int, timeout: float) -> bool:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if all(len(c.markers) >= count for c in clients):
                    return True
                await asyncio.sleep(0.2)
            return False

        half = args.messages // 2
        for seq in range(1, half + 1):
            await send(seq)
        if not await everyone_has(half, 60):
            counts = sorted(len(c.markers) for c in clients)
            raise RuntimeError(
                f"streams on A did not receive the first messages: connected "
                f"{sum(c.connected for c in clients)}, dropped "
                f"{sum(c.dropped_at is not None for c in clients)}, received min/median/max "
                f"{counts[0]}/{counts[len(counts) // 2]}/{counts[-1]} of {half}"
            )
        killed_at = time.monotonic()
        eb.kill9(a.process)  # type: ignore[arg-type]
        for seq in range(half + 1, args.messages + 1):
            await send(seq)
        delivered = await everyone_has(args.messages, 90)
        elapsed = time.monotonic() - killed_at
        back = [c.back_after for c in clients if c.back_after is not None]
        exact = sum(1 for c in clients if c.markers == sent)
        worst = max(back) if len(back) == len(clients) else float("inf")
        verdict = "PASS" if delivered and exact == len(clients) and worst <= 15 else "FAIL"
        row = (
            f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {eb.commit()} | {len(clients)} streams, "
            f"{args.messages} messages ({half} while A was down) | {len(back)}/{len(clients)} back, slowest "
            f"{worst:.1f} s | {exact}/{len(clients)} got every message once, in order (all delivered "
            f"{elapsed:.1f} s after the kill) | ≤ 15 s, 0 lost, 0 repeated | {verdict} |"
        )
        print(row, flush=True)
        if not args.no_record:
            doc = eb.DOC.read_text()
            marker = "<!-- results:reconnect -->"
            if marker not in doc:
                doc = doc.replace(
                    "## S4, S7 — not measured here",
                    "## Kill-the-worker reconnect drill\n\n`uv run --frozen python tests/load/chat_reconnect_drill.py`"
                    " (see its docstring).\n\n" + marker + "\n| date | commit | setup | reconnect | delivery | target "
                    "| verdict |\n|---|---|---|---|---|---|---|\n<!-- /results:reconnect -->\n\n"
                    "## S4, S7 — not measured here",
                    1,
                )
            doc = doc.replace("<!-- /results:reconnect -->", row + "\n<!-- /results:reconnect -->", 1)
            eb.DOC.write_text(doc)
        return 0 if verdict == "PASS" else 1
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await close_pool(pool)
        a.stop()
        b.stop()
        broker.stop()
        await databases.drop_database(url)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
