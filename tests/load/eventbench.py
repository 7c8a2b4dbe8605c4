"""Shared pieces of the event benchmarks (S8 and the chat stream scenarios): C_kafka, open-loop producing,
process and machine bookkeeping, the cells of the result tables, and the docs/performance.md table writer
for scripts run on their own.

C_kafka is aiokafka produce → consume on the broker in use (Tansu here), the consumer with
``fetch_max_wait_ms=5`` like every service consumer, producer ``acks=all`` and ``linger_ms=0`` like the
outbox relay. Latency counts from the *scheduled* send time (open loop), so a stalled producer cannot hide.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import statistics
import struct
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from common import med, pct, spread  # also re-exported: the event scripts call eb.pct, eb.med, eb.spread

from chat_shared.testing.broker import free_port

# Every benchmark here runs on the in-memory Tansu broker, which waits out the whole fetch wait instead of
# long-polling: the services it starts must use the short wait their tests and `make dev` use.
os.environ.setdefault("KAFKA_FETCH_MAX_WAIT_MS", "5")
# Replica consumers (not on the path any chat benchmark measures) poll every 50 ms, as in `make dev`, so an
# idle service does not spend a fifth of a core polling; friend_s8_events.py measures a replica and sets 5.
os.environ.setdefault("KAFKA_REPLICA_FETCH_MAX_WAIT_MS", "50")

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "performance.md"
HEADER = (
    "| date | commit | measurement | N | X | R | X·R | ratio | verdict | raw |\n"
    "|---|---|---|---|---|---|---|---|---|---|\n"
)


# --------------------------------------------------------------------------- machine and processes


def cpu_seconds(pid: int | None) -> float:
    """CPU seconds of a process (0 if it is gone): the sum of its threads' nanosecond schedstat counters
    where the kernel has them (``/proc/<pid>/stat`` counts 10 ms ticks, too coarse for one broadcast)."""
    if pid is None:
        return 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        tasks = Path(f"/proc/{pid}/task")
        return sum(int((t / "schedstat").read_text().split()[0]) for t in tasks.iterdir()) / 1e9
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pid_of(*names: str) -> int | None:
    """The first process whose command name is one of ``names`` (read-only: to account MariaDB's CPU)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in names:
                    return int(entry.name)
    return None


def mysqld_pid() -> int | None:
    return pid_of("mariadbd", "mysqld")


def load() -> float:
    return os.getloadavg()[0]


async def wait_quiet(limit: float = 2.5, max_wait: float = 240.0) -> float:
    """Poll the 1-minute load average until it is ≤ ``limit`` (at most ``max_wait`` s); return it."""
    deadline = time.monotonic() + max_wait
    while load() > limit and time.monotonic() < deadline:
        print(f"load average {load():.2f} > {limit}: waiting", flush=True)
        await asyncio.sleep(15)
    return load()


def commit() -> str:
    return (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
        or "?"
    )


def kill9(process: subprocess.Popen[bytes]) -> None:
    process.kill()  # SIGKILL
    process.wait(10)


# --------------------------------------------------------------------------- statistics


def ms(values: list[float], fmt: str = "{:.1f}") -> str:
    """'median (min–max) ms' of values given in seconds."""
    return spread([v * 1e3 for v in values], fmt) + " ms"


class Flow(Protocol):
    """A measurement window as the N, X, R, X·R cells read it."""

    @property
    def n(self) -> float:
        """Time-averaged in flight."""
        ...

    @property
    def x(self) -> float:
        """Completions per second."""
        ...

    @property
    def r(self) -> float:
        """Mean latency, s."""
        ...


class ProcessCpu(Protocol):
    """A measurement window that knows each process's CPU over it."""

    cpu: dict[str, float]

    def cpu_us(self, name: str) -> float:
        """CPU-µs per operation of one process."""
        ...


def nxr_cells(windows: Sequence[Flow], unit: str = "/s", r_fmt: str = "{:.1f}") -> tuple[str, str, str, str]:
    """The N, X (with ``unit``), R and X·R cells of a row: median (min–max) over the runs."""
    return (
        spread([w.n for w in windows], "{:.2f}"),
        spread([w.x for w in windows], "{:.0f}") + unit,
        ms([w.r for w in windows], r_fmt),
        spread([w.x * w.r for w in windows], "{:.2f}"),
    )


def cpu_cells(windows: Sequence[ProcessCpu]) -> str:
    """'process median (min–max), …' of CPU-µs per operation, for every process the first window measured."""
    return ", ".join(f"{k} {spread([w.cpu_us(k) for w in windows], '{:.0f}')}" for k in windows[0].cpu)


@dataclass
class Window:
    """One open-loop window of events: scheduled send time → handled time, both in wall-clock seconds."""

    label: str
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    expected: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # process → CPU seconds over the window

    @property
    def x(self) -> float:
        """Events handled per second."""
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    @property
    def r(self) -> float:
        """Mean scheduled-send → handled latency, s."""
        return statistics.fmean(self.latencies) if self.latencies else float("nan")

    @property
    def n(self) -> float:
        """Events in flight, time-averaged: Σ latency / window (the area under the in-flight curve)."""
        return sum(self.latencies) / self.elapsed if self.elapsed else 0.0

    def cpu_us(self, name: str) -> float:
        """CPU-µs per handled event of one process."""
        return self.cpu.get(name, 0.0) / max(len(self.latencies), 1) * 1e6

    def line(self) -> str:
        """The per-run line printed on stdout."""
        cpu = " ".join(f"{k}={self.cpu_us(k):.0f}" for k in self.cpu)
        return (
            f"  {self.label}: handled {len(self.latencies)}/{self.expected} N={self.n:.2f} X={self.x:.1f}/s "
            f"R={self.r * 1e3:.2f} ms X·R={self.x * self.r:.2f} p50={pct(self.latencies, 0.5) * 1e3:.2f} "
            f"p99={pct(self.latencies, 0.99) * 1e3:.2f} max={max(self.latencies, default=0) * 1e3:.1f} ms "
            f"CPU-µs/event [{cpu}]"
        )


@dataclass
class HandledTarget:
    """S8's handled-latency verdict over the runs: median p99 ≤ median C_kafka p99 + 30 ms, and none lost."""

    ck99: list[float]  # C_kafka p99 of each run, s
    p99: list[float]  # handled p99 of each run, s
    lost: int

    @classmethod
    def of(cls, ck: list[Window], steady: list[Window]) -> HandledTarget:
        """The verdict for the C_kafka windows and the handled windows of the same runs."""
        return cls(
            [pct(c.latencies, 0.99) for c in ck],
            [pct(w.latencies, 0.99) for w in steady],
            sum(w.expected - len(w.latencies) for w in steady),
        )

    @property
    def limit(self) -> float:
        """The p99 allowed, s."""
        return med(self.ck99) + 0.030

    @property
    def ok(self) -> bool:
        """Whether the target passed."""
        return med(self.p99) <= self.limit and self.lost == 0

    def ratio(self) -> str:
        """The ratio cell of the handled row."""
        return f"p99 {ms(self.p99)} / (C_kafka p99 + 30 = {self.limit * 1e3:.1f} ms) = {med(self.p99) / self.limit:.2f}"


# --------------------------------------------------------------------------- Kafka


async def ensure_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        if name not in set(await admin.list_topics()):
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


def producer(bootstrap: str) -> AIOKafkaProducer:
    """Like the outbox relay's: acks=all, no linger, no idempotence (Tansu does not support it)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=0, enable_idempotence=False, request_timeout_ms=10_000
    )


async def open_loop_produce(
    prod: AIOKafkaProducer, topic: str, rate: float, duration: float, make: Callable[[int, float], tuple[bytes, bytes]]
) -> list[float]:
    """Send ``rate``/s for ``duration`` s on a fixed schedule; ``make(i, scheduled_wall)`` → (key, value).
    Returns each message's scheduled wall-clock time. Waits for every acknowledgement."""
    start = time.perf_counter()
    wall0 = time.time() - (time.perf_counter() - start)
    scheduled_walls = []
    futures = []
    for i in range(max(1, int(rate * duration))):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        wall = wall0 + (scheduled - start)
        key, value = make(i, wall)
        futures.append(await prod.send(topic, value, key=key))
        scheduled_walls.append(wall)
    await asyncio.gather(*futures)
    return scheduled_walls


async def c_kafka(
    bootstrap: str, rate: float = 500.0, duration: float = 30.0, warmup: float = 3.0, partitions: int = 3
) -> Window:
    """aiokafka produce → consume latency at ``rate`` msg/s (open loop), consumer fetch_max_wait_ms=5."""
    topic = f"bench.c_kafka.{uuid.uuid4().hex[:6]}"
    await ensure_topic(bootstrap, topic, partitions)
    prod = producer(bootstrap)
    await prod.start()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=5,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    received: dict[int, float] = {}

    async def consume() -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=100)
            now = time.time()
            for records in batch.values():
                for record in records:
                    received[struct.unpack(">q", record.value[:8])[0]] = now

    reader = asyncio.create_task(consume())
    try:
        window = Window("C_kafka")
        for phase, length in (("warmup", warmup), ("measure", duration)):
            base = len(received) + (10_000_000 if phase == "measure" else 0)
            sent: dict[int, float] = {}

            def make(i: int, wall: float, base: int = base, sent: dict[int, float] = sent) -> tuple[bytes, bytes]:
                sent[base + i] = wall
                return str(i % 97).encode(), struct.pack(">q", base + i) + b"x" * 300

            t0 = time.perf_counter()
            await open_loop_produce(prod, topic, rate, length, make)
            deadline = time.monotonic() + 30
            while any(k not in received for k in sent) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if phase == "measure":
                window.elapsed = time.perf_counter() - t0
                window.expected = len(sent)
                window.latencies = [received[k] - w for k, w in sent.items() if k in received]
        return window
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await consumer.stop()
        await prod.stop()


def c_kafka_row(ck: list[Window], rate: float, note: str) -> tuple[str, ...]:
    """The C_kafka denominator row of an S8 table (measurement, N, X, R, X·R, ratio, verdict, raw)."""
    return (
        f"C_kafka: aiokafka produce→consume at {rate:.0f}/s, fetch_max_wait_ms=5{note}",
        *nxr_cells(ck),
        "denominator",
        "ok",
        f"p50 {ms([pct(c.latencies, 0.5) for c in ck])}, p99 "
        f"{ms([pct(c.latencies, 0.99) for c in ck])}; received {sum(len(c.latencies) for c in ck)}/"
        f"{sum(c.expected for c in ck)}",
    )


def utc(dt: datetime) -> float:
    """A DATETIME(6) read back from MySQL (naive UTC) as epoch seconds."""
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


# --------------------------------------------------------------------------- docs/performance.md


def record(key: str, title: str, doc: str, rows: list[tuple[str, ...]]) -> None:
    """Append rows (measurement, N, X, R, X·R, ratio, verdict, raw) between ``<!-- results:key -->`` markers,
    creating the ``## title`` section (with ``doc``) when missing. Other sections are left untouched."""
    begin, end = f"<!-- results:{key} -->", f"<!-- /results:{key} -->"
    text = DOC.read_text()
    if begin not in text:
        text = text.rstrip("\n") + f"\n\n## {title}\n\n{doc.strip()}\n\n{begin}\n{HEADER}{end}\n"
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    sha = commit()
    lines = "".join(f"| {date} | {sha} | " + " | ".join(r) + " |\n" for r in rows)
    at = text.index(end)
    DOC.write_text(text[:at] + lines + text[at:])


def section_doc(module_doc: str | None) -> str:
    parts = (module_doc or "").split("\n", 1)
    return re.sub(r"``", "`", parts[1] if len(parts) > 1 else "")


class ServiceProcess:
    """A service under uvicorn (uvloop + httptools), restartable on the same database, Redis and broker."""

    def __init__(self, name: str, service_dir: Path, env: dict[str, str], logdir: Path) -> None:
        self.name = name
        self.service_dir = service_dir
        self.env = env
        self.logdir = logdir
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0

    async def start(self) -> None:
        self.port = free_port()
        self.starts += 1
        log = (self.logdir / f"{self.name}-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "uvicorn"),
                "main:app",
                "--port",
                str(self.port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=self.service_dir,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        async with httpx.AsyncClient(timeout=2) as client:
            for _ in range(1200):
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: see {log.name}")
                try:
                    if (await client.get(f"http://127.0.0.1:{self.port}/health")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} not healthy after 120 s")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    async def metric(self, name: str, **labels: str) -> float:
        async with httpx.AsyncClient(timeout=5) as client:
            body = (await client.get(f"http://127.0.0.1:{self.port}/metrics")).text
        total = 0.0
        for line in body.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
