"""Shared pieces of the S0–S2 benchmarks: a light HTTP/1.1 keep-alive client, open- and closed-loop
drivers, process helpers and statistics.

The client is raw asyncio streams (uvloop) rather than httpx: on 2 shared cores httpx costs more CPU per
request than the server under test, so it would measure itself. C_http is measured with this same
client, so every ratio compares like with like.

Open loop: requests leave on a fixed schedule whatever the answers do, and latency is counted from the
*scheduled* send time (a stalled server or a busy client cannot hide queueing: no coordinated
omission). Closed loop (N workers, one connection each, next request after the previous answer) is only
used for maximum throughput.

N is the time-averaged number of requests in flight (integrated independently of the latencies), X the
completions per second, R the mean latency; X·R must be close to N (Little's law).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# Every benchmark here runs on the in-memory Tansu broker, which waits out the whole fetch wait instead of
# long-polling: the services it starts must use the short wait their tests and `make dev` use.
os.environ.setdefault("KAFKA_FETCH_MAX_WAIT_MS", "5")

ROOT = Path(__file__).resolve().parents[2]
PY = ROOT / ".venv" / "bin" / "python"
UVICORN = ROOT / ".venv" / "bin" / "uvicorn"
UVICORN_FLAGS = ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
TIMEOUT_S = 10.0


# --------------------------------------------------------------------------- HTTP client


def build(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """A raw HTTP/1.1 keep-alive request."""
    lines = [f"{method} {path} HTTP/1.1", "Host: bench"]
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    if body or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Response:
    status: int
    head: bytes
    body: bytes

    def header(self, name: str) -> str | None:
        needle = name.lower().encode() + b":"
        for line in self.head.split(b"\r\n"):
            if line.lower().startswith(needle):
                return line.split(b":", 1)[1].strip().decode()
        return None


class Conn:
    """One keep-alive connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> Response:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at >= 0:
            end = lower.find(b"\r\n", at + 2)
            length = int(lower[at + 17 : end])
        elif b"transfer-encoding: chunked" in lower:
            raise RuntimeError("chunked responses are not supported by the bench client")
        body = await self.reader.readexactly(length) if length else b""
        return Response(status, head, body)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class Pool:
    """Keep-alive connections, opened on demand up to ``size``; beyond that requests wait (and that
    wait counts in their latency, measured from the scheduled time)."""

    def __init__(self, port: int, size: int = 256) -> None:
        self.port = port
        self._idle: list[tuple[float, Conn]] = []
        self._slots = asyncio.Semaphore(size)

    def _take(self) -> Conn | None:
        # uvicorn closes keep-alive connections idle for 5 s: never reuse one idle for 4 s or more.
        while self._idle:
            since, conn = self._idle.pop()
            if time.monotonic() - since < 4.0:
                return conn
            conn.close()
        return None

    async def request(self, raw: bytes, timeout: float = TIMEOUT_S) -> Response:
        await self._slots.acquire()
        conn = None
        try:
            conn = self._take() or await Conn.open(self.port)
            response = await asyncio.wait_for(conn.request(raw), timeout)
            self._idle.append((time.monotonic(), conn))
            conn = None
            return response
        finally:
            if conn is not None:
                conn.close()
            self._slots.release()

    def close(self) -> None:
        for _, conn in self._idle:
            conn.close()
        self._idle.clear()


async def call(port: int, raw: bytes) -> Response:
    """One request on a fresh connection (set-up calls)."""
    conn = await Conn.open(port)
    try:
        return await asyncio.wait_for(conn.request(raw), TIMEOUT_S)
    finally:
        conn.close()


# --------------------------------------------------------------------------- measurements


@dataclass
class Result:
    """One measurement window."""

    label: str
    elapsed: float
    latencies: list[float] = field(default_factory=list)  # every completed or failed request, seconds
    statuses: dict[int, list[float]] = field(default_factory=dict)  # status (0 = timeout/io error) → latencies
    area: float = 0.0  # ∫ in-flight dt
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    retry_after_missing: int = 0

    @property
    def count(self) -> int:
        return len(self.latencies)

    def ok(self, statuses: tuple[int, ...] = (200, 201)) -> int:
        return sum(len(self.statuses.get(s, [])) for s in statuses)

    def errors(self, allowed: tuple[int, ...] = (200, 201)) -> int:
        return self.count - self.ok(allowed)

    @property
    def n(self) -> float:
        return self.area / self.elapsed if self.elapsed else 0.0

    @property
    def x(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def x_of(self, statuses: tuple[int, ...]) -> float:
        return self.ok(statuses) / self.elapsed if self.elapsed else 0.0

    @property
    def r(self) -> float:
        return statistics.fmean(self.latencies) if self.latencies else 0.0

    def pct(self, q: float, status: int | None = None) -> float:
        """A latency percentile, s: of every request, or of those answered ``status``."""
        return pct(self.latencies if status is None else self.statuses.get(status, []), q)

    def cpu_us_per_op(self, ops: int | None = None) -> float:
        ops = self.count if ops is None else ops
        return self.server_cpu_s / ops * 1e6 if ops else float("nan")

    def line(self) -> str:
        codes = " ".join(f"{k}:{len(v)}" for k, v in sorted(self.statuses.items()))
        return (
            f"  {self.label}: N={self.n:.2f} X={self.x:.1f}/s R={self.r * 1e3:.2f} ms X·R={self.x * self.r:.2f} "
            f"p50={self.pct(0.5) * 1e3:.2f} p95={self.pct(0.95) * 1e3:.2f} p99={self.pct(0.99) * 1e3:.2f} "
            f"max={max(self.latencies, default=0) * 1e3:.1f} ms statuses[{codes}] "
            f"server={self.cpu_us_per_op():.0f} CPU-µs/op client={self.client_cpu_s / max(self.count, 1) * 1e6:.0f}"
            f" CPU-µs/op"
        )


def cpu_seconds(pid: int | None) -> float:
    """user+system CPU time of a process (from /proc/<pid>/stat)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Tracker:
    def __init__(self, result: Result) -> None:
        self.result = result
        self.in_flight = 0
        self.last = time.perf_counter()

    def tick(self, delta: int) -> None:
        now = time.perf_counter()
        self.result.area += self.in_flight * (now - self.last)
        self.last = now
        self.in_flight += delta

    def record(self, status: int, latency: float, response: Response | None) -> None:
        self.result.latencies.append(latency)
        self.result.statuses.setdefault(status, []).append(latency)
        if status == 503 and response is not None and response.header("retry-after") is None:
            self.result.retry_after_missing += 1


async def _send(pool: Pool, raw: bytes, tracker: _Tracker, started: float) -> None:
    tracker.tick(+1)
    response = None
    try:
        response = await pool.request(raw)
        status = response.status
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, RuntimeError):
        status = 0
    tracker.tick(-1)
    tracker.record(status, time.perf_counter() - started, response)


async def open_loop(
    pool: Pool, make: Callable[[], bytes], rate: float, duration: float, label: str, pid: int | None = None
) -> Result:
    """``rate`` requests/s for ``duration`` s on a fixed schedule; waits for the stragglers."""
    result = Result(label, 0.0)
    tracker = _Tracker(result)
    cpu0, ccpu0 = cpu_seconds(pid), time.process_time()
    start = time.perf_counter()
    tracker.last = start
    tasks = []
    for i in range(max(1, int(rate * duration))):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_send(pool, make(), tracker, scheduled)))
    await asyncio.gather(*tasks)
    tracker.tick(0)
    result.elapsed = time.perf_counter() - start
    result.server_cpu_s = cpu_seconds(pid) - cpu0
    result.client_cpu_s = time.process_time() - ccpu0
    return result


async def closed_loop(
    port: int, make: Callable[[], bytes], workers: int, duration: float, label: str, pid: int | None = None
) -> Result:
    """``workers`` connections, each sending its next request when the previous answer arrived."""
    result = Result(label, 0.0)
    tracker = _Tracker(result)
    conns = [await Conn.open(port) for _ in range(workers)]
    deadline = 0.0

    async def worker(conn: Conn) -> None:
        while time.perf_counter() < deadline:
            raw = make()
            started = time.perf_counter()
            tracker.tick(+1)
            response = None
            try:
                response = await asyncio.wait_for(conn.request(raw), TIMEOUT_S)
                status = response.status
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, RuntimeError):
                status = 0
                conn.close()
                conn = await Conn.open(port)
            tracker.tick(-1)
            tracker.record(status, time.perf_counter() - started, response)
        conn.close()

    cpu0, ccpu0 = cpu_seconds(pid), time.process_time()
    start = time.perf_counter()
    tracker.last = start
    deadline = start + duration
    await asyncio.gather(*(worker(c) for c in conns))
    tracker.tick(0)
    result.elapsed = time.perf_counter() - start
    result.server_cpu_s = cpu_seconds(pid) - cpu0
    result.client_cpu_s = time.process_time() - ccpu0
    return result


# --------------------------------------------------------------------------- processes


def start_uvicorn(app: str, cwd: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """One uvicorn worker with the service's flags."""
    return subprocess.Popen(
        [str(UVICORN), app, "--port", str(port), *UVICORN_FLAGS],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate (then kill) a process we started."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


async def wait_ready(port: int, path: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Poll ``path`` until 200 (fails early if the process died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"server exited with {process.returncode}: {err[-2000:]}")
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            if (await call(port, build("GET", path))).status == 200:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{path} not 200 after {timeout} s")


# --------------------------------------------------------------------------- statistics
# eventbench.py imports these too, so every table in tests/load takes its percentiles and spreads one way.


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank, no interpolation) of ``values``; nan when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def med(values: list[float]) -> float:
    """The median of ``values``; nan when there are none."""
    return statistics.median(values) if values else float("nan")


def spread(values: list[float], fmt: str = "{:.1f}") -> str:
    """'median (min–max)'."""
    if not values:
        return "n/a"
    return f"{fmt.format(med(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


# --------------------------------------------------------------------------- run settings and report rows


@dataclass
class Setup:
    """What every scenario gets from run.py."""

    duration: float  # seconds per measurement window
    warmup: float
    runs: int
    port: int = 0  # user-service
    pid: int | None = None
    database_url: str = ""
    users: list[tuple[int, str, str]] = field(default_factory=list)  # (id, email, password), pre-registered
    calibration: dict[str, float] = field(default_factory=dict)  # C_http, C_hash, hash_ms, …


@dataclass
class Row:
    """One line of a scenario's table in docs/performance.md."""

    measurement: str
    n: str
    x: str
    r: str
    xr: str
    ratio: str
    verdict: str
    raw: str
