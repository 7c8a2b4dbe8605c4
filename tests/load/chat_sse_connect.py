"""SSE connects with JWT auth (a companion of S5/S6): 200 new `GET /stream`/s at p99 time-to-first-byte ≤ 50 ms.

    uv run --frozen python tests/load/chat_sse_connect.py [--rate 200] [--duration 30] [--runs 3] [--users 2000] [--close] [--no-record]

Starts a scratch MariaDB database, a Tansu broker and chat-service as a real process (uvicorn, 1 worker,
uvloop + httptools, `ENVIRONMENT=development`, migrations on start, Redis db 14). A connect touches no
MongoDB (bearer check, the Redis subscription, the user's log position, `: connected`), so the service runs on
`MONGO_URL=mongomock://` and the figures count: nothing here reads or writes a message. Nor does a connect touch
Kafka, so the service runs its live fan-out group with the production fetch wait
(`KAFKA_FETCH_MAX_WAIT_MS=500`, `--fetch-wait-ms`; replica groups keep eventbench's 50 ms): Tansu does not
long-poll, so at 5 ms the idle group polls all the time, and that CPU would be charged to the connects.

Open loop (`common.open_loop`): at `--rate` connects/s for `--duration` s, each a **new TCP connection** with
`Authorization: Bearer <token>` of one of `--users` (2,000) users in turn (tokens signed in advance with the
`TestKeys` pair the service trusts, so every connect pays a full RS256 verification). Time to first byte =
from the connect's **scheduled** time to reading the first body bytes (`retry: 2000` + `: connected`), so a
slow accept, TLS-less handshake or a busy event loop all count. The connections are **kept open for the
rest of the run**, like real clients (up to rate × duration = 6,000 streams at the end of a 30 s window,
within S5's 10,000 per worker), and closed between runs; `--close` closes each right after its first bytes
instead. Figures: TTFB p50/p95/p99/max (target p99 ≤ 50 ms), errors (non-200, timeouts after 10 s; a run
with > 0.1 % fails), N/X/R/X·R, chat-service CPU-µs per connect (gross, and net of the idle process),
the client's own CPU per connect. Median (min–max) over the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
from pathlib import Path

import common
import eventbench as eb
from chatbench import CHAT_DIR, TOKEN_TTL_S, MongoTarget, SSEStream, StreamRefused, chat_env, idle_share

from chat_shared.testing import databases
from chat_shared.testing.broker import Broker
from chat_shared.testing.tokens import TestKeys

P99_MS = 50.0


class Connector:
    """A ``common.Pool`` stand-in for ``common.open_loop``: each 'request' (a token) opens a new stream and
    answers once its first body bytes arrived; the stream is then held (or closed with ``close_each``)."""

    def __init__(self, port: int, close_each: bool) -> None:
        self.port = port
        self.close_each = close_each
        self.held: list[SSEStream] = []

    async def request(self, raw: bytes) -> common.Response:
        """Open one stream with the token ``raw``; the answer comes with its first body bytes."""
        try:
            stream = await asyncio.wait_for(SSEStream.connect(self.port, raw.decode()), common.TIMEOUT_S)
        except StreamRefused as refused:
            return common.Response(refused.status, refused.head, b"")
        if self.close_each:
            stream.close()
        else:
            self.held.append(stream)
        return common.Response(200, b"", b"")

    def close(self) -> None:
        """Close every held stream (the end of a run)."""
        for stream in self.held:
            stream.close()
        self.held.clear()


async def main() -> int:
    """Run the connect benchmark; exit 0 when the target passed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--close", action="store_true", help="close each stream after its first bytes")
    parser.add_argument("--fetch-wait-ms", type=int, default=500)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    load0 = await eb.wait_quiet()
    mode = "closed after the first bytes" if args.close else "held open for the run"
    print(
        f"SSE connect: {args.rate:.0f}/s, {args.users} users, streams {mode}; load avg {os.getloadavg()} at "
        f"start, {os.cpu_count()} CPUs",
        flush=True,
    )
    keys = TestKeys()
    base = random.randint(100, 199) * 1_000_000  # fresh ids: pub/sub channels ignore Redis logical dbs
    tokens = [keys.token(base + i, ttl_s=TOKEN_TTL_S).encode() for i in range(args.users)]
    url = await databases.create_database("bench_chat_connect")
    broker = Broker().start()
    logdir = Path(tempfile.mkdtemp(prefix="bench-chat-connect-"))
    mongo = MongoTarget("mongomock://", "chat", real=False)  # never touched by a connect
    service = eb.ServiceProcess(
        "chat-service",
        CHAT_DIR,
        chat_env(url, broker.bootstrap, keys, mongo, KAFKA_FETCH_MAX_WAIT_MS=str(args.fetch_wait_ms)),
        logdir,
    )
    results: list[common.Result] = []
    held: list[int] = []
    idle = float("nan")
    connector: Connector | None = None
    try:
        await service.start()
        connector = Connector(service.port, args.close)
        turn = [0]

        def make() -> bytes:
            turn[0] += 1
            return tokens[turn[0] % len(tokens)]

        await asyncio.sleep(1)
        idle = await idle_share(service.pid, min(5.0, args.duration))
        print(f"  idle chat-service (fetch wait {args.fetch_wait_ms} ms): {idle * 100:.1f} % of a core", flush=True)
        await common.open_loop(connector, make, args.rate, args.warmup, "warm-up", service.pid)
        connector.close()
        await asyncio.sleep(2)  # the server notices the closed streams and unsubscribes
        for run in range(1, args.runs + 1):
            r = await common.open_loop(
                connector, make, args.rate, args.duration, f"connect open loop {args.rate:.0f}/s run {run}", service.pid
            )
            held.append(len(connector.held))
            net = (r.server_cpu_s - idle * r.elapsed) / max(r.count, 1) * 1e6
            print(
                f"{r.line()} net of idle {net:.0f} CPU-µs/connect; {held[-1]} streams open at the end; "
                f"load={eb.load():.2f}",
                flush=True,
            )
            results.append(r)
            connector.close()
            await asyncio.sleep(3)
    finally:
        if connector is not None:
            connector.close()
        service.stop()
        broker.stop()
        await databases.drop_database(url)

    p99 = [r.pct(0.99) for r in results]
    errors = sum(r.errors((200,)) for r in results)
    total = sum(r.count for r in results)
    ok = eb.med(p99) * 1e3 <= P99_MS and errors <= 0.001 * max(total, 1)
    codes: dict[int, int] = {}
    for r in results:
        for status, values in r.statuses.items():
            codes[status] = codes.get(status, 0) + len(values)
    note = f" ({args.runs}×{args.duration:.0f} s; load avg {load0:.1f} at start, {eb.load():.1f} at end)"
    row = (
        f"new `GET /stream` + bearer JWT, open loop {args.rate:.0f}/s, {args.users} users, streams {mode}{note}",
        *eb.nxr_cells(results, r_fmt="{:.2f}"),
        f"TTFB p99 {eb.ms(p99, '{:.2f}')} / {P99_MS:.0f} ms = {eb.med(p99) * 1e3 / P99_MS:.2f}",
        "PASS" if ok else "FAIL",
        f"p50 {eb.ms([r.pct(0.5) for r in results], '{:.2f}')}, p95 {eb.ms([r.pct(0.95) for r in results], '{:.2f}')}, max "
        f"{eb.ms([max(r.latencies, default=0) for r in results])}; errors {errors}/{total} (statuses "
        f"{dict(sorted(codes.items()))}); streams open at the end {eb.spread([float(h) for h in held], '{:.0f}')}; "
        f"chat-service {eb.spread([r.cpu_us_per_op() for r in results], '{:.0f}')} CPU-µs/connect, net of idle "
        f"{eb.spread([(r.server_cpu_s - idle * r.elapsed) / max(r.count, 1) * 1e6 for r in results], '{:.0f}')} "
        f"(idle {idle * 100:.1f} % of a core); client "
        f"{eb.spread([r.client_cpu_s / max(r.count, 1) * 1e6 for r in results], '{:.0f}')} CPU-µs/connect",
    )
    print(" | ".join(row), flush=True)
    if not args.no_record:
        eb.record("SSE-connect", "SSE connects with JWT auth", eb.section_doc(__doc__), [row])
    print(f"logs in {logdir}")
    return 0 if ok else 1


if __name__ == "__main__":
    import uvloop

    sys.exit(uvloop.run(main()))
