"""S0 — calibration: the denominators of every ratio, measured in the same run with the same tools.

C_http: the bare uvicorn hello-world (``hello.py``), 1 worker, same flags as the services, closed loop with
the same client and connection count as S1. C_hash: Argon2id (m=19 MiB, t=2, p=1) hashes/s on 2 threads
through passlib's ``CryptContext`` (argon2-cffi releases the GIL), plus ms per hash on one thread.
C_db: aiomysql primary-key selects/s (8 connections). C_redis: ``redis-benchmark -t ping,publish``.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import threading
import time

from common import ROOT, Row, Setup, closed_loop, med, spread, start_uvicorn, stop, wait_ready
from common import build as build_request
from passlib.context import CryptContext
from sqlalchemy.engine import make_url

from chat_shared.testing.broker import free_port

HTTP_WORKERS = 16
TITLE = "S0 — calibration"


def context() -> CryptContext:
    return CryptContext(
        schemes=["argon2"], argon2__type="ID", argon2__memory_cost=19 * 1024, argon2__rounds=2, argon2__parallelism=1
    )


def hash_rate(seconds: float, threads: int = 2) -> tuple[float, float]:
    """(hashes/s on ``threads`` threads, ms per hash on one thread)."""
    ctx = context()
    ctx.hash("warm-up-password")
    t0 = time.perf_counter()
    for _ in range(10):
        ctx.hash("single-thread-pass")
    single_ms = (time.perf_counter() - t0) / 10 * 1e3
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def loop(i: int) -> None:
        while time.perf_counter() < deadline:
            ctx.hash("correct horse battery")
            counts[i] += 1

    start = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - start), single_ms


async def db_rate(database_url: str, seconds: float, ids: list[int], workers: int = 8) -> float:
    """aiomysql point selects/s by primary key."""
    import aiomysql

    url = make_url(database_url)
    pool = await aiomysql.create_pool(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        db=url.database,
        minsize=workers,
        maxsize=workers,
        autocommit=True,
    )
    count = 0
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal count
        async with pool.acquire() as conn, conn.cursor() as cur:
            i = offset
            while time.perf_counter() < deadline:
                await cur.execute("SELECT id, username FROM users WHERE id = %s", (ids[i % len(ids)],))
                await cur.fetchall()
                count += 1
                i += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(workers)))
    elapsed = time.perf_counter() - start
    pool.close()
    await pool.wait_closed()
    return count / elapsed


def redis_rates() -> dict[str, float]:
    """redis-benchmark PING/PUBLISH requests/s (empty when the tool is absent)."""
    if not shutil.which("redis-benchmark"):
        return {}
    out = subprocess.run(
        ["redis-benchmark", "-t", "ping,publish", "-q", "-n", "20000"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout
    rates = {}
    for name, value in re.findall(r"([A-Z_]+): ([\d.]+) requests per second", out.replace("\r", "\n")):
        rates[name] = float(value)
    return rates


async def c_http(setup: Setup) -> list:
    """Closed-loop max of hello.py; one Result per run."""
    port = free_port()
    server = start_uvicorn("hello:app", ROOT / "tests" / "load", port, {})
    raw = build_request("GET", "/")
    results = []
    try:
        await wait_ready(port, "/", server)
        for run in range(setup.runs):
            await closed_loop(port, lambda: raw, HTTP_WORKERS, setup.warmup, "warm-up")
            result = await closed_loop(
                port, lambda: raw, HTTP_WORKERS, setup.duration, f"C_http run {run + 1}", server.pid
            )
            print(result.line(), flush=True)
            results.append(result)
    finally:
        stop(server)
    return results


async def run(setup: Setup) -> list[Row]:
    """Measure C_http, C_hash, C_db, C_redis; store them in ``setup.calibration``."""
    print(f"== {TITLE}", flush=True)
    rows: list[Row] = []
    https = await c_http(setup)
    xs = [r.x for r in https]
    setup.calibration["C_http"] = med(xs)
    errors = sum(r.errors((200,)) for r in https)
    rows.append(
        Row(
            "C_http: hello-world, closed loop",
            spread([r.n for r in https]),
            spread(xs, "{:.0f}") + "/s",
            spread([r.r * 1e3 for r in https], "{:.2f}") + " ms",
            spread([r.x * r.r for r in https], "{:.2f}"),
            "denominator",
            "ok" if errors == 0 else "errors",
            f"p99 {spread([r.pct(0.99) * 1e3 for r in https], '{:.2f}')} ms; "
            f"server {spread([r.cpu_us_per_op() for r in https], '{:.0f}')} CPU-µs/req; "
            f"client {spread([r.client_cpu_s / r.count * 1e6 for r in https], '{:.0f}')} CPU-µs/req; "
            f"errors {errors}",
        )
    )

    hashes, singles = [], []
    for run_no in range(setup.runs):
        rate, single = await asyncio.to_thread(hash_rate, min(setup.duration, 10.0))
        hashes.append(rate)
        singles.append(single)
        print(
            f"  C_hash run {run_no + 1}: {rate:.1f} hashes/s on 2 threads; {single:.1f} ms/hash on 1 thread", flush=True
        )
    setup.calibration["C_hash"] = med(hashes)
    setup.calibration["hash_ms"] = med(singles)
    rows.append(
        Row(
            "C_hash: Argon2id m=19 MiB t=2 p=1, 2 threads",
            "2",
            spread(hashes) + "/s",
            spread(singles) + " ms/hash (1 thread)",
            "–",
            "denominator",
            "ok",
            "in-process, no HTTP; window min(duration, 10 s)",
        )
    )

    if setup.database_url and setup.users:
        ids = [u[0] for u in setup.users]
        dbs = [await db_rate(setup.database_url, min(setup.duration, 5.0), ids) for _ in range(setup.runs)]
        print(f"  C_db: {', '.join(f'{v:.0f}' for v in dbs)} selects/s", flush=True)
        setup.calibration["C_db"] = med(dbs)
        rows.append(
            Row(
                "C_db: aiomysql PK select, 8 connections",
                "8",
                spread(dbs, "{:.0f}") + "/s",
                "–",
                "–",
                "denominator",
                "ok",
                "window min(duration, 5 s)",
            )
        )

    redis = await asyncio.to_thread(redis_rates)
    if redis:
        print(f"  C_redis: {redis}", flush=True)
        rows.append(
            Row(
                "C_redis: redis-benchmark -n 20000",
                "50 (default)",
                ", ".join(f"{k} {v:.0f}/s" for k, v in redis.items()),
                "–",
                "–",
                "denominator",
                "ok",
                "one run",
            )
        )
    return rows
