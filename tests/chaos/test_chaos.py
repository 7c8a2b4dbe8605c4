"""``make chaos``: the chaos drill once (tests/chaos/drill.py), its numbers printed as a JSON line.

    CHAOS_CLIENTS=20 CHAOS_SENDS=200 CHAOS_INTERVAL_S=0.5 make chaos

Not part of ``make test``: it runs for minutes and breaks processes on purpose.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from chaos import Plan
from drill import run
from stack import REPO, start, stop
from verdict import judge

CLIENTS = int(os.environ.get("CHAOS_CLIENTS", "20"))
SENDS = int(os.environ.get("CHAOS_SENDS", "200"))
INTERVAL_S = float(os.environ.get("CHAOS_INTERVAL_S", "0.5"))
RESULTS = os.environ.get("CHAOS_RESULTS")  # a JSON-lines file each run appends its numbers to


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


@pytest.mark.timeout(900)
async def test_nothing_acknowledged_is_lost_doubled_or_reordered(tmp_path: Path) -> None:
    began, load = time.monotonic(), os.getloadavg()[0]
    log = REPO / ".data/chaos" / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-processes.log"
    stack = await start(tmp_path)
    try:
        result = await run(stack, CLIENTS, SENDS, INTERVAL_S, Plan())
        verdict = judge(result, stack)
        verdict.numbers["cpu_s"] = {**stack.cpu_seconds(), "drill": round(sum(os.times()[:2]), 1)}
    finally:
        await stop(stack, keep_log=log)
    line = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "commit": _commit(),
        "clients": CLIENTS,
        "sends_per_client": SENDS,
        "passed": verdict.passed,
        **verdict.numbers,
        "wall_s": round(time.monotonic() - began, 1),
        "load_avg": f"{load:.1f} → {os.getloadavg()[0]:.1f}",
    }
    print("chaos drill:", json.dumps(line))
    if RESULTS:
        with open(RESULTS, "a") as out:
            out.write(json.dumps(line) + "\n")
    assert verdict.passed, "\n".join(verdict.problems) + f"\nprocess logs: {log}"
