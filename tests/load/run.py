"""Run the user-service benchmarks S0–S2 and record them in docs/performance.md (``make bench``).

    uv run --frozen python tests/load/run.py [--quick] [--scenario S1] [--duration 10] [--runs 3]

Starts its own scratch MariaDB database, a Tansu broker and user-service under uvicorn (1 worker, uvloop +
httptools), registers the accounts the scenarios need, runs S0 (always: S1/S2 are ratios to it), then the
chosen scenarios, appends one row per measurement to that scenario's table, and stops everything it
started. Other ``tests/load`` scripts (``friend_*.py``, ``chat_*.py``) run on their own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import s0_calibration
import s1_http
import s2_hashing
from common import ROOT, Row, Setup, build, call, start_uvicorn, stop, wait_ready

from chat_shared.testing import databases
from chat_shared.testing.broker import Broker, free_port

USER_DIR = ROOT / "services" / "user-service"
DOC = ROOT / "docs" / "performance.md"
SCENARIOS = {"S0": s0_calibration, "S1": s1_http, "S2": s2_hashing}
SEED_USERS = 200
PASSWORD = "Bench-seeded-pass-1"
HEADER = (
    "| date | commit | measurement | N | X | R | X·R | ratio | verdict | raw |\n"
    "|---|---|---|---|---|---|---|---|---|---|\n"
)


async def seed(setup: Setup, count: int) -> None:
    """Register ``count`` accounts (4 at a time, retrying 503s)."""
    prefix = os.urandom(3).hex()
    queue = list(range(count))

    async def worker() -> None:
        while queue:
            i = queue.pop()
            name = f"s{prefix}{i}"
            body = json.dumps({"email": f"{name}@example.com", "username": name, "password": PASSWORD}).encode()
            raw = build("POST", "/auth/register", body, {"Content-Type": "application/json"})
            for _ in range(20):
                response = await call(setup.port, raw)
                if response.status == 201:
                    setup.users.append((json.loads(response.body)["id"], f"{name}@example.com", PASSWORD))
                    break
                if response.status != 503:
                    raise RuntimeError(f"register {response.status}: {response.body[:200]!r}")
                await asyncio.sleep(0.2)

    await asyncio.gather(*(worker() for _ in range(4)))


def commit() -> str:
    return (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
        or "?"
    )


def record(key: str, title: str, doc: str, rows: list[Row], note: str) -> None:
    """Append rows to the scenario's table between its markers; create the section when missing."""
    begin, end = f"<!-- results:{key} -->", f"<!-- /results:{key} -->"
    text = DOC.read_text() if DOC.exists() else "# Performance\n"
    if begin not in text:
        text = text.rstrip("\n") + f"\n\n## {title}\n\n{doc.strip()}\n\n{begin}\n{HEADER}{end}\n"
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    sha = commit()
    lines = "".join(
        f"| {date} | {sha} | {r.measurement}{note} | {r.n} | {r.x} | {r.r} | {r.xr} | {r.ratio} | "
        f"{r.verdict} | {r.raw} |\n"
        for r in rows
    )
    at = text.index(end)
    text = text[:at] + lines + text[at:]
    DOC.write_text(text)


def section_doc(module: object) -> str:
    doc = (module.__doc__ or "").split("\n", 1)
    return re.sub(r"``", "`", doc[1] if len(doc) > 1 else "")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke check: 5 s windows, 1 run")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="repeatable; default all")
    parser.add_argument("--duration", type=float, help="seconds per measurement window (default 30, quick 5)")
    parser.add_argument("--runs", type=int, help="runs per measurement (default 3, quick 1)")
    parser.add_argument("--no-record", action="store_true", help="print only, leave docs/performance.md alone")
    args = parser.parse_args()
    duration = args.duration or (5.0 if args.quick else 30.0)
    runs = args.runs or (1 if args.quick else 3)
    setup = Setup(duration=duration, warmup=min(2.0, duration / 2), runs=runs)
    chosen = args.scenario or sorted(SCENARIOS)
    if "S0" not in chosen:
        chosen = ["S0", *chosen]  # every ratio needs its denominator from the same run
    load = os.getloadavg()[0]
    note = f" ({runs}×{duration:.0f} s{', quick' if args.quick else ''}; load avg {load:.1f} at start)"
    print(
        f"bench: {chosen}, {runs} run(s) × {duration:.0f} s, warm-up {setup.warmup:.0f} s, "
        f"{os.cpu_count()} CPUs shared with the load generator",
        flush=True,
    )

    url = await databases.create_database("bench_user")
    broker = None
    server = None
    keydir = tempfile.TemporaryDirectory(prefix="bench-keys-")
    failed = False
    try:
        broker = Broker().start()
        setup.database_url = url
        setup.port = free_port()
        env = {
            "ENVIRONMENT": "development",
            "DATABASE_URL": url,
            "RUN_MIGRATIONS_ON_START": "true",
            "REDIS_URL": "redis://127.0.0.1:6379/13",
            "KAFKA_BOOTSTRAP": broker.bootstrap,
            "KAFKA_ENABLE_IDEMPOTENCE": "false",
            "LOG_LEVEL": "WARNING",
            "DEV_KEY_FILE": str(Path(keydir.name) / "jwt.pem"),
        }
        server = start_uvicorn("main:app", USER_DIR, setup.port, env)
        setup.pid = server.pid
        await wait_ready(setup.port, "/ready", server, timeout=120)
        t0 = time.perf_counter()
        await seed(setup, SEED_USERS)
        print(f"seeded {len(setup.users)} accounts in {time.perf_counter() - t0:.1f} s", flush=True)
        for key in chosen:
            module = SCENARIOS[key]
            rows = await module.run(setup)
            for r in rows:
                print(
                    f"  -> {r.measurement}: N {r.n} | X {r.x} | R {r.r} | X·R {r.xr} | {r.ratio} | {r.verdict} | "
                    f"{r.raw}",
                    flush=True,
                )
                failed |= r.verdict == "FAIL"
            if not args.no_record:
                record(key, module.TITLE, section_doc(module), rows, note)
    finally:
        stop(server)
        if broker is not None:
            broker.stop()
        await databases.drop_database(url)
        keydir.cleanup()
    print(f"results {'not recorded' if args.no_record else f'appended to {DOC.relative_to(ROOT)}'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    import uvloop

    sys.exit(uvloop.run(main()))
