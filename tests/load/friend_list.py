"""Benchmark: ``GET /friends`` for a user with 500 friends, open-loop at a fixed arrival rate.

Target: p95 ≤ 30 ms at 100 req/s against uvicorn on MariaDB. Not a test: run by hand
(``.venv/bin/python tests/load/friend_list.py``). It creates a scratch database, seeds 500 friends,
starts friend-service under uvicorn (1 worker, uvloop + httptools) with its own Tansu broker and Redis
db 11, then runs warm-up + ``--duration`` seconds ``--runs`` times. Requests leave on a fixed schedule
(open loop) and latency is measured from the *scheduled* send time, so a stalled server cannot hide
its queueing (no coordinated omission). Prints N (mean in flight), X, R, X·R, percentiles and the
server's CPU-µs per request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[2]
FRIEND_DIR = ROOT / "services" / "friend-service"
sys.path.insert(0, str(FRIEND_DIR))

from chat_shared.testing import databases  # noqa: E402
from chat_shared.testing.broker import Broker, free_port  # noqa: E402
from chat_shared.testing.tokens import TestKeys  # noqa: E402

ME = 1
FRIENDS = 500


async def seed(url: str) -> None:
    engine = create_async_engine(url)
    now = datetime.now(UTC).replace(tzinfo=None)
    async with engine.begin() as conn:
        users = [{"id": i, "u": f"user{i}", "d": f"User {i}", "t": now} for i in range(1, FRIENDS + 2)]
        await conn.execute(
            text("INSERT INTO users (id, username, display_name, updated_at) VALUES (:id, :u, :d, :t)"), users
        )
        rows = []
        for friend in range(2, FRIENDS + 2):
            rows += [{"a": ME, "b": friend, "t": now}, {"a": friend, "b": ME, "t": now}]
        await conn.execute(text("INSERT INTO friendships (user_id, friend_id, since) VALUES (:a, :b, :t)"), rows)
    await engine.dispose()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def open_loop(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], rate: float, duration: float
) -> tuple[list[float], int, float]:
    """Fire requests on schedule; returns (latencies s, errors, mean in flight)."""
    latencies: list[float] = []
    errors = 0
    in_flight = 0
    area = 0.0
    last = time.perf_counter()

    def account() -> None:
        nonlocal area, last
        now = time.perf_counter()
        area += in_flight * (now - last)
        last = now

    async def one(scheduled: float) -> None:
        nonlocal errors, in_flight
        account()
        in_flight += 1
        try:
            response = await client.get(path, headers=headers)
            if response.status_code != 200:
                errors += 1
        except httpx.HTTPError:
            errors += 1
        finally:
            account()
            in_flight -= 1
            latencies.append(time.perf_counter() - scheduled)

    start = time.perf_counter()
    total = int(rate * duration)
    tasks = []
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    account()
    elapsed = time.perf_counter() - start
    return latencies, errors, area / elapsed, elapsed


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=50)
    args = parser.parse_args()

    keys = TestKeys()
    url = await databases.create_database("friend_bench")
    await asyncio.to_thread(databases.migrate, FRIEND_DIR, url)
    await seed(url)
    broker = Broker().start()
    port = free_port()
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": url,
        "REDIS_URL": "redis://127.0.0.1:6379/11",
        "KAFKA_BOOTSTRAP": broker.bootstrap,
        "KAFKA_ENABLE_IDEMPOTENCE": "false",
        "LOG_LEVEL": "WARNING",
        "JWT_PUBLIC_KEY": keys.public_pem,
        "JWT_PUBLIC_KEY_ID": keys.kid,
    }
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "uvicorn"),
            "main:app",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=FRIEND_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {keys.token(ME, ttl_s=3600)}"}
    path = f"/friends?limit={args.limit}"
    results = []
    try:
        async with httpx.AsyncClient(
            base_url=base, timeout=5, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)
        ) as client:
            for _ in range(300):
                try:
                    if (await client.get("/health")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
            page = (await client.get(path, headers=headers)).json()
            assert len(page["items"]) == args.limit and page["next_cursor"], page
            for run in range(1, args.runs + 1):
                await open_loop(client, path, headers, args.rate, args.warmup)
                cpu0 = cpu_seconds(server.pid)
                latencies, errors, n, elapsed = await open_loop(client, path, headers, args.rate, args.duration)
                cpu = cpu_seconds(server.pid) - cpu0
                x = len(latencies) / elapsed  # completions over the wall time they took
                r = statistics.mean(latencies)
                row = {
                    "run": run,
                    "N": n,
                    "X": x,
                    "R_ms": r * 1000,
                    "XR": x * r,
                    "p50_ms": pct(latencies, 0.5) * 1000,
                    "p95_ms": pct(latencies, 0.95) * 1000,
                    "p99_ms": pct(latencies, 0.99) * 1000,
                    "max_ms": max(latencies) * 1000,
                    "errors": errors,
                    "cpu_us_per_req": cpu / len(latencies) * 1e6,
                }
                results.append(row)
                print(
                    " ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True
                )
    finally:
        server.terminate()
        server.wait(10)
        broker.stop()
        await databases.drop_database(url)
    p95s = [r["p95_ms"] for r in results]
    median = statistics.median(p95s)
    print(f"load average during the run: {os.getloadavg()} on {os.cpu_count()} cores")
    print(
        f"p95 median={median:.2f} ms spread={min(p95s):.2f}..{max(p95s):.2f} ms target ≤ 30 ms at "
        f"{args.rate:.0f} req/s (limit={args.limit}) → {'PASS' if median <= 30 else 'FAIL'} "
        f"(ratio {median / 30:.2f} of the limit)"
    )


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
