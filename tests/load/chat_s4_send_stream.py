"""S4 — send → SSE delivery end to end: rooms of 10 members, every member holding one open stream.

    uv run --frozen python tests/load/chat_s4_send_stream.py [--rates 50 200 500] [--duration 30] [--runs 3] [--no-record]
    uv run --frozen python tests/load/chat_s4_send_stream.py --smoke      # no real MongoDB: correctness only

**Real MongoDB only.** The send writes MongoDB, and figures measured on mongomock are not performance
(docs/performance.md, "How we measure"): without `MONGO_URL=mongodb://…` in the environment the script refuses to measure. `--smoke`
runs the same code against `MONGO_URL=mongomock://` (in-process in the service), prints every figure
labelled "smoke on mongomock — not performance", still checks 0 lost / 0 duplicated / order kept, and
never writes a result row. With a real MongoDB the service gets a scratch database (`MONGO_DB=bench_chat_s4_…`,
dropped at the end).

Starts a scratch MariaDB database, a Tansu broker and chat-service as a real process (uvicorn, 1 worker,
uvloop + httptools, `ENVIRONMENT=development`, migrations on start, Redis db 14,
`KAFKA_FETCH_MAX_WAIT_MS=5`, the relay woken by each send's commit). 50 group rooms × 10 fresh users are
inserted straight into `rooms`/`room_members` (a group send checks only membership —
`MessageService.send` — so no friendships are needed), and every member opens one
`GET /stream` with a bearer token (500 streams, read by our own asyncio SSE client on raw sockets).

Per rate (50, 200, 500 msg/s) a warm-up window, then `--runs` windows of `--duration` s: messages are sent
through the real route `POST /rooms/{id}/messages` (`client_msg_id` set, sender a member of the room,
rooms round-robin) on an **open-loop** schedule with `common.open_loop`. Every delivery of a
`message.created` frame is timestamped when its bytes are read and compared with the message's
**scheduled** send time, so neither a slow send nor a slow client hides queueing. After the window the
script waits for the stragglers, then checks that every stream got every acknowledged (201) message of its
room exactly once, in seq order, with the seq the 201 returned.

Figures: send→delivery p50/p99 over all member deliveries (targets at 500 msg/s: p50 ≤ 10 ms,
p99 ≤ 50 ms); N = deliveries in flight (from the *actual* send time, integrated apart from R),
X = deliveries/s, R = mean latency from the *scheduled* time, X·R (≈ N; above N when the client sent
late); chat-service CPU-µs per sent message (target ≤ 2,000), gross and net of the idle process (the
live fan-out group polls Tansu every 5 ms, replica groups every 50 ms), plus MariaDB, Redis and the broker; the send route's own
latency and status counts. Tables: median (min–max) over the runs. A run with lost, duplicated or
out-of-order deliveries, or > 0.1 % send errors, fails whatever its speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import common
import eventbench as eb
from chat_s8_fanout import MEMBERS, Bench
from chatbench import (
    CHAT_DIR,
    NOT_MEASURED,
    REDIS_URL,
    SMOKE_LABEL,
    InspectingPool,
    SSEStream,
    auth_headers,
    chat_env,
    close_pool,
    drop_mongo,
    idle_share,
    mongo_target,
    mysql_pool,
    open_streams,
    print_rows,
    request_body,
    user_log,
)
from redis.asyncio import Redis

from chat_shared.testing import databases
from chat_shared.testing.broker import Broker
from chat_shared.testing.tokens import TestKeys

P50_MS, P99_MS, CPU_US = 10.0, 50.0, 2000.0


# --------------------------------------------------------------------------- S4


@dataclass
class Member:
    """One member's stream and what it received: (room_id, seq, message number, read time)."""

    user: int
    room: int
    received: list[tuple[int, int, int, float]] = field(default_factory=list)


@dataclass
class S4Window:
    """One open-loop window of sends and what the streams made of it."""

    label: str
    rate: float
    send: common.Result
    sent: int = 0
    acked: int = 0
    expected: int = 0  # acked × members
    latencies: list[float] = field(default_factory=list)  # scheduled send → delivery, s
    in_flight_area: float = 0.0  # Σ (delivery − actual send), s
    elapsed: float = 0.0
    lost: int = 0
    duplicated: int = 0
    disorder: int = 0
    seq_mismatch: int = 0
    seq_reused: int = 0
    unacked_delivered: int = 0
    missing: list[tuple[int, int]] = field(default_factory=list)  # (user, message number) never delivered
    cpu: dict[str, float] = field(default_factory=dict)
    idle_core: float = 0.0
    client_cpu_s: float = 0.0

    @property
    def x(self) -> float:
        """Deliveries per second over the window (first scheduled send → last delivery)."""
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    @property
    def r(self) -> float:
        """Mean scheduled-send → delivery latency, s."""
        return sum(self.latencies) / len(self.latencies) if self.latencies else float("nan")

    @property
    def n(self) -> float:
        """Deliveries in flight, time-averaged, counted from the actual send (independent of R's clock)."""
        return self.in_flight_area / self.elapsed if self.elapsed else 0.0

    def p(self, q: float) -> float:
        """A latency percentile, s."""
        return eb.pct(self.latencies, q)

    def cpu_us(self, name: str, net: bool = False) -> float:
        """CPU-µs per acknowledged message of one process (net: minus the idle process's share)."""
        cpu = self.cpu.get(name, 0.0) - (self.idle_core * self.elapsed if net else 0.0)
        return cpu / max(self.acked, 1) * 1e6

    @property
    def send_errors(self) -> int:
        """Sends answered with anything but 201 (timeouts included)."""
        return self.send.errors((201,))

    @property
    def clean(self) -> bool:
        """Nothing lost, duplicated or out of order, and ≤ 0.1 % send errors."""
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.disorder == 0
            and self.seq_mismatch == 0
            and self.seq_reused == 0
            and self.send_errors <= 0.001 * max(self.sent, 1)
        )

    def line(self, note: str) -> str:
        """The per-run line printed on stdout."""
        cpu = " ".join(f"{k}={self.cpu_us(k):.0f}" for k in self.cpu)
        return (
            f"  [{note}] {self.label}: sent {self.sent} acked {self.acked}, delivered "
            f"{len(self.latencies)}/{self.expected} N={self.n:.2f} X={self.x:.0f} deliveries/s "
            f"R={self.r * 1e3:.2f} ms X·R={self.x * self.r:.2f} p50={self.p(0.5) * 1e3:.2f} "
            f"p99={self.p(0.99) * 1e3:.2f} max={max(self.latencies, default=0) * 1e3:.1f} ms | lost "
            f"{self.lost} dup {self.duplicated} disorder {self.disorder} seq-mismatch {self.seq_mismatch} "
            f"seq-reused {self.seq_reused} delivered-unacked {self.unacked_delivered} | CPU-µs/msg [{cpu}] "
            f"chat-service net of idle {self.cpu_us('chat-service', net=True):.0f} | client {self.client_cpu_s / max(self.acked, 1) * 1e6:.0f}"
            f" CPU-µs/msg\n    send route:{self.send.line()}"
        )


class S4:
    """The rooms, their members' open streams, and the bookkeeping of every message sent."""

    def __init__(self, service: eb.ServiceProcess, bench: Bench, rooms: dict[int, list[int]], keys: TestKeys) -> None:
        self.service = service
        self.bench = bench
        self.rooms = rooms
        self.room_ids = list(rooms)
        self.headers = auth_headers(keys, (u for m in rooms.values() for u in m))
        self.members = [Member(u, r) for r, m in rooms.items() for u in m]
        self.streams: list[SSEStream] = []
        self.readers: list[asyncio.Task[None]] = []
        self.next_n = 0
        self.scheduled: dict[int, float] = {}  # message number → scheduled send (perf_counter)
        self.actual: dict[int, float] = {}  # message number → when the client really sent it
        self.room_of: dict[int, int] = {}
        self.acked: dict[int, int] = {}  # message number → seq of its 201
        self.dup_acks = 0  # a 200 ("already sent") to a fresh client_msg_id: never expected
        self.lo = self.hi = 0
        self.delivered = 0  # deliveries of the current window's messages
        self.http = InspectingPool(service.port, self._on_answer)
        self.idle_core = 0.0

    # --- streams

    async def open(self) -> None:
        """Every member opens one stream; a reader task per stream records its message.created frames."""
        self.streams = await open_streams(
            self.service.port, [self.headers[m.user]["Authorization"][7:] for m in self.members]
        )
        self.readers = [
            asyncio.create_task(s.run(self._on_frame_of(m))) for s, m in zip(self.streams, self.members, strict=True)
        ]

    def _on_frame_of(self, member: Member) -> Callable[[bytes, float], None]:
        def on_frame(frame: bytes, now: float) -> None:
            if b"event: message.created" not in frame:
                return  # pings are comments; nothing else is sent to these rooms
            message = json.loads(frame[frame.index(b"\ndata: ") + 7 :])["message"]
            n = int(message["client_msg_id"][3:])
            member.received.append((message["room_id"], message["seq"], n, now))
            if self.lo <= n < self.hi:
                self.delivered += 1

        return on_frame

    def close(self) -> None:
        """Stop the readers, drop the streams and the send connections."""
        for task in self.readers:
            task.cancel()
        for stream in self.streams:
            stream.close()
        self.http.close()

    # --- sends

    def _on_answer(self, raw: bytes, response: common.Response) -> None:
        n = int(json.loads(request_body(raw))["client_msg_id"][3:])
        if response.status == 201:
            self.acked[n] = int(json.loads(response.body)["seq"])
        elif response.status == 200:
            self.dup_acks += 1

    def _make(self, rate: float) -> Callable[[], bytes]:
        lo = self.next_n
        start = [0.0]

        def make() -> bytes:
            # open_loop calls this at each scheduled instant; its first call is its start (within µs).
            n = self.next_n
            self.next_n += 1
            now = time.perf_counter()
            if n == lo:
                start[0] = now
            self.scheduled[n] = start[0] + (n - lo) / rate
            self.actual[n] = now
            room = self.room_ids[n % len(self.room_ids)]
            sender = self.rooms[room][(n // len(self.room_ids)) % len(self.rooms[room])]
            self.room_of[n] = room
            body = json.dumps({"content": f"s4 message {n}", "client_msg_id": f"s4-{n}"}).encode()
            return common.build("POST", f"/rooms/{room}/messages", body, self.headers[sender])

        return make

    async def _wait_delivered(self, expected: int, stall_s: float = 15.0, max_s: float = 180.0) -> None:
        """Until every expected delivery arrived, or nothing arrived for ``stall_s`` (then some are lost)."""
        deadline = time.monotonic() + max_s
        last, since = -1, time.monotonic()
        while self.delivered < expected and time.monotonic() < deadline:
            if self.delivered != last:
                last, since = self.delivered, time.monotonic()
            elif time.monotonic() - since > stall_s:
                return
            await asyncio.sleep(0.05)

    async def ready(self) -> None:
        """One message per room, delivered everywhere: the fan-out group has joined and every path is warm."""
        w = await self.window(float(len(self.room_ids)), 1.0, "first messages")
        if w.lost or len(w.latencies) < w.expected:
            raise RuntimeError(f"the first messages did not reach every stream: {w.line(SMOKE_LABEL)}")

    async def window(self, rate: float, duration: float, label: str) -> S4Window:
        """Send ``rate``/s for ``duration`` s (open loop), wait for every delivery, check each stream."""
        count = max(1, int(rate * duration))
        self.lo, self.hi, self.delivered = self.next_n, self.next_n + count, 0
        lo, hi = self.lo, self.hi
        cpu0, ccpu0 = self.bench.cpus(), time.process_time()
        send = await common.open_loop(self.http, self._make(rate), rate, duration, label, self.service.pid)
        acked = {n: s for n, s in self.acked.items() if lo <= n < hi}
        await self._wait_delivered(len(acked) * MEMBERS)
        cpu1, ccpu1 = self.bench.cpus(), time.process_time()
        w = S4Window(
            label,
            rate,
            send,
            sent=count,
            acked=len(acked),
            expected=len(acked) * MEMBERS,
            cpu={k: cpu1[k] - cpu0[k] for k in cpu0},
            idle_core=self.idle_core,
            client_cpu_s=ccpu1 - ccpu0,
        )
        start, last = self.scheduled[lo], self.scheduled[hi - 1]
        expected_by_room: dict[int, set[int]] = {}
        seqs_by_room: dict[int, set[int]] = {}
        for n, seq in acked.items():
            expected_by_room.setdefault(self.room_of[n], set()).add(n)
            seqs_by_room.setdefault(self.room_of[n], set()).add(seq)
        # Two 201s with one seq would mean one of them was overwritten (an orphan clean-up gone wrong).
        w.seq_reused = len(acked) - sum(len(s) for s in seqs_by_room.values())
        for member in self.members:
            mine = [e for e in member.received if lo <= e[2] < hi]
            numbers = [n for _, _, n, _ in mine]
            w.duplicated += len(numbers) - len(set(numbers))
            missing = expected_by_room.get(member.room, set()) - set(numbers)
            w.lost += len(missing)
            w.missing += [(member.user, n) for n in sorted(missing)]
            w.disorder += sum(1 for a, b in pairwise(mine) if b[1] <= a[1]) + sum(
                1 for e in mine if e[0] != member.room
            )
            for _, seq, n, at in mine:
                w.latencies.append(at - self.scheduled[n])
                w.in_flight_area += at - self.actual[n]
                last = max(last, at)
                if n not in acked:
                    w.unacked_delivered += 1
                elif acked[n] != seq:
                    w.seq_mismatch += 1
        w.elapsed = last - start
        if w.missing:
            await self.diagnose(w, acked)
        return w

    async def diagnose(self, w: S4Window, acked: dict[int, int]) -> None:
        """Say where undelivered messages stopped: absent from the member's Redis log (the relay or the
        fan-out lost it) or in the log but never written to the stream (the hub)."""
        for user, n in w.missing[:10]:
            cmid = f'"client_msg_id":"s4-{n}"'.encode()
            entries = await user_log(self.bench.redis, user)
            hit = [(i.decode(), i.split(b"-")[0]) for i, data in entries if cmid in data]
            where = (
                f"in the user's log as {hit[0][0]} (appended {int(hit[0][1]) / 1e3 - time.time():+.1f} s from "
                f"now) but never written to the stream"
                if hit
                else "not in the user's Redis log"
            )
            print(
                f"    undelivered: user {user} message s4-{n} (room {self.room_of[n]}, seq {acked[n]}): {where}",
                flush=True,
            )
        if len(w.missing) > 10:
            print(f"    … and {len(w.missing) - 10} more undelivered", flush=True)

    def whole_session_check(self) -> tuple[int, int, int]:
        """(never delivered, duplicates, out-of-order) over everything each stream received since it opened:
        a delivery that came after its window gave up on it is late there, not lost here."""
        lost = dup = disorder = 0
        by_room: dict[int, set[int]] = {}
        for n in self.acked:
            by_room.setdefault(self.room_of[n], set()).add(n)
        for member in self.members:
            numbers = [n for _, _, n, _ in member.received]
            lost += len(by_room.get(member.room, set()) - set(numbers))
            dup += len(numbers) - len(set(numbers))
            disorder += sum(1 for a, b in pairwise(member.received) if b[1] <= a[1])
        return lost, dup, disorder


def s4_row(rate: float, windows: list[S4Window], rooms: int, note: str) -> tuple[str, ...]:
    """One docs/performance.md row (measurement, N, X, R, X·R, ratio, verdict, raw) for one rate."""
    p50 = [w.p(0.5) for w in windows]
    p99 = [w.p(0.99) for w in windows]
    cpu = [w.cpu_us("chat-service") for w in windows]
    ok = (
        eb.med(p99) * 1e3 <= P99_MS
        and eb.med(p50) * 1e3 <= P50_MS
        and eb.med(cpu) <= CPU_US
        and all(w.clean for w in windows)
    )
    return (
        f"send → stream, open loop {rate:.0f} msg/s, {rooms} rooms × {MEMBERS} members, {rooms * MEMBERS} "
        f"streams{note}",
        *eb.nxr_cells(windows, " deliveries/s", "{:.2f}"),
        f"p99 {eb.ms(p99)} / {P99_MS:.0f} = {eb.med(p99) * 1e3 / P99_MS:.2f}; p50 {eb.ms(p50)} / {P50_MS:.0f} = "
        f"{eb.med(p50) * 1e3 / P50_MS:.2f}; CPU {eb.med(cpu):.0f} µs / {CPU_US:.0f} = {eb.med(cpu) / CPU_US:.2f}",
        "PASS" if ok else "FAIL",
        f"lost {sum(w.lost for w in windows)}, duplicated {sum(w.duplicated for w in windows)}, out of order "
        f"{sum(w.disorder + w.seq_mismatch + w.seq_reused for w in windows)} of {sum(w.expected for w in windows)} deliveries; "
        f"send errors {sum(w.send_errors for w in windows)}/{sum(w.sent for w in windows)}; send route p50 "
        f"{eb.ms([w.send.pct(0.5) for w in windows], '{:.2f}')}, p99 {eb.ms([w.send.pct(0.99) for w in windows], '{:.2f}')}; "
        "CPU-µs/msg "
        + eb.cpu_cells(windows)
        + f", chat-service net of idle {eb.spread([w.cpu_us('chat-service', net=True) for w in windows], '{:.0f}')}"
        f" (idle {windows[0].idle_core * 100:.1f} % of a core); client "
        f"{eb.spread([w.client_cpu_s / max(w.acked, 1) * 1e6 for w in windows], '{:.0f}')} CPU-µs/msg",
    )


async def main() -> int:
    """Run S4; exit 0 when every target passed (smoke: when nothing was lost, duplicated or reordered),
    2 when not measured."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=float, nargs="+", default=[50.0, 200.0, 500.0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--smoke", action="store_true", help="mongomock, correctness only, never recorded")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    target = mongo_target(args.smoke, "bench_chat_s4")
    if target is None:
        print(f"S4: {NOT_MEASURED}")
        return 2
    load0 = eb.load() if args.smoke else await eb.wait_quiet()
    print(f"S4 send → stream [{target.note}]: load avg {os.getloadavg()} at start, {os.cpu_count()} CPUs", flush=True)
    keys = TestKeys()
    url = await databases.create_database("bench_chat_s4")
    broker = Broker().start()
    logdir = Path(tempfile.mkdtemp(prefix="bench-chat-s4-"))
    service = eb.ServiceProcess("chat-service", CHAT_DIR, chat_env(url, broker.bootstrap, keys, target), logdir)
    redis = Redis.from_url(REDIS_URL)
    pool = bench = s4 = None
    results: dict[float, list[S4Window]] = {}
    whole = (0, 0, 0)
    try:
        await service.start()
        pool = await mysql_pool(url)
        bench = Bench(pool, redis, service, broker)
        s4 = S4(service, bench, await bench.rooms(args.rooms), keys)
        await s4.open()
        await s4.ready()
        await asyncio.sleep(1)
        s4.idle_core = await idle_share(service.pid, min(5.0, args.duration))
        print(
            f"  idle chat-service with {len(s4.streams)} open streams: {s4.idle_core * 100:.1f} % of a core", flush=True
        )
        for rate in args.rates:
            await s4.window(rate, args.warmup, f"warm-up {rate:.0f}/s")
            for run in range(1, args.runs + 1):
                w = await s4.window(rate, args.duration, f"{rate:.0f} msg/s run {run}")
                print(w.line(target.note), f"load={eb.load():.2f}", flush=True)
                results.setdefault(rate, []).append(w)
        whole = s4.whole_session_check()
        print(
            f"  [{target.note}] whole session, every stream: never delivered {whole[0]}, duplicates {whole[1]}, "
            f"out of order {whole[2]}, "
            f"200-to-a-fresh-client_msg_id {s4.dup_acks}",
            flush=True,
        )
    finally:
        if s4 is not None:
            s4.close()
        service.stop()
        broker.stop()
        await close_pool(pool)
        if bench is not None:
            await bench.delete_streams()
        await redis.aclose()
        await databases.drop_database(url)
        await drop_mongo(target)
    note = f" ({args.runs}×{args.duration:.0f} s; load avg {load0:.1f} at start, {eb.load():.1f} at end)"
    rows = print_rows([s4_row(rate, windows, args.rooms, note) for rate, windows in results.items()], target)
    assert s4 is not None
    clean = all(w.clean for ws in results.values() for w in ws) and whole == (0, 0, 0) and s4.dup_acks == 0
    print(
        f"[{target.note}] correctness: {'OK' if clean else 'FAILED'} (0 lost, 0 duplicated, per-room seq order "
        f"kept in all {len(s4.members)} streams)"
    )
    if target.real and not args.no_record:
        eb.record("S4", "S4 — send → SSE delivery end to end", eb.section_doc(__doc__), rows)
    print(f"logs in {logdir}")
    if not target.real:
        return 0 if clean else 1
    return 0 if clean and all(r[6] == "PASS" for r in rows) else 1


if __name__ == "__main__":
    import uvloop

    sys.exit(uvloop.run(main()))
