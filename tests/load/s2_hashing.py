"""S2 — login and register at the hashing ceiling (Argon2id in user-service's 2-thread pool).

Targets: sustained ≥ 0.90 × C_hash; p95 ≤ hash time + 30 ms at 80 % of C_hash (open loop); at 200 % offered
load the excess is refused fast (503 + Retry-After in < 50 ms), no timeouts, and ``/health`` p99 during the
overload ≤ 2 × its idle p99 (the event loop never blocks).

Logins use pre-registered accounts with the right password: the login throttle only counts failures, so
successful logins are never throttled. Registrations use fresh usernames.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid

from common import Pool, Row, Setup, build, closed_loop, med, open_loop, spread

WORKERS = 8  # < hash_threads + hash_queue_limit (18): max throughput without 503s
HEALTH_RATE = 50.0
TITLE = "S2 — login and register at the hashing ceiling"
JSON = {"Content-Type": "application/json"}


def login_maker(setup: Setup):
    users = itertools.cycle(setup.users)

    def make() -> bytes:
        _, email, password = next(users)
        return build("POST", "/auth/login/json", json.dumps({"email": email, "password": password}).encode(), JSON)

    return make


def register_maker():
    prefix = uuid.uuid4().hex[:6]
    numbers = itertools.count()

    def make() -> bytes:
        name = f"r{prefix}{next(numbers)}"
        body = {"email": f"{name}@example.com", "username": name, "password": f"Bench-{name}-pass"}
        return build("POST", "/auth/register", json.dumps(body).encode(), JSON)

    return make


async def run(setup: Setup) -> list[Row]:
    print(f"== {TITLE}", flush=True)
    c_hash = setup.calibration["C_hash"]
    hash_ms = setup.calibration["hash_ms"]
    health = build("GET", "/health")
    got: dict[str, list] = {k: [] for k in ("register", "login", "p80", "idle", "over", "over_health")}
    for run_no in range(setup.runs):
        for name, make in (("register", register_maker()), ("login", login_maker(setup))):
            await closed_loop(setup.port, make, WORKERS, setup.warmup, "warm-up")
            result = await closed_loop(
                setup.port, make, WORKERS, setup.duration, f"{name} max run {run_no + 1}", setup.pid
            )
            print(result.line(), flush=True)
            got[name].append(result)

        pool = Pool(setup.port)
        make = login_maker(setup)
        await open_loop(pool, make, 0.8 * c_hash, setup.warmup, "warm-up")
        result = await open_loop(
            pool,
            make,
            0.8 * c_hash,
            setup.duration,
            f"login open loop {0.8 * c_hash:.0f}/s (80 % C_hash) run {run_no + 1}",
            setup.pid,
        )
        print(result.line(), flush=True)
        got["p80"].append(result)

        await asyncio.sleep(1)  # let the hash queue drain
        idle = await open_loop(pool, lambda: health, HEALTH_RATE, setup.duration, f"/health idle run {run_no + 1}")
        print(idle.line(), flush=True)
        got["idle"].append(idle)

        health_pool = Pool(setup.port)
        over, over_health = await asyncio.gather(
            open_loop(
                pool,
                make,
                2 * c_hash,
                setup.duration,
                f"login open loop {2 * c_hash:.0f}/s (200 % C_hash) run {run_no + 1}",
                setup.pid,
            ),
            open_loop(
                health_pool, lambda: health, HEALTH_RATE, setup.duration, f"/health during overload run {run_no + 1}"
            ),
        )
        print(over.line(), flush=True)
        print(over_health.line(), flush=True)
        got["over"].append(over)
        got["over_health"].append(over_health)
        pool.close()
        health_pool.close()
        await asyncio.sleep(1)

    rows = []
    for name, ok in (("register", (201,)), ("login", (200,))):
        results = got[name]
        xs = [r.x_of(ok) for r in results]
        ratios = [x / c_hash for x in xs]
        errors = sum(r.errors(ok) for r in results)
        total = sum(r.count for r in results)
        rows.append(
            Row(
                f"{name} max, closed loop {WORKERS} conns",
                spread([r.n for r in results], "{:.2f}"),
                spread(xs) + "/s",
                spread([r.r * 1e3 for r in results]) + " ms",
                spread([r.x * r.r for r in results], "{:.2f}"),
                f"{spread(ratios, '{:.2f}')} × C_hash (≥ 0.90)",
                "PASS" if med(ratios) >= 0.90 and errors <= 0.001 * total else "FAIL",
                f"C_hash {c_hash:.1f}/s; server {spread([r.cpu_us_per_op() for r in results], '{:.0f}')} "
                f"CPU-µs/op; errors {errors}/{total}",
            )
        )

    p80 = got["p80"]
    p95s = [r.pct(0.95) * 1e3 for r in p80]
    limit = hash_ms + 30
    errors = sum(r.errors((200,)) for r in p80)
    total = sum(r.count for r in p80)
    rows.append(
        Row(
            "login open loop at 80 % C_hash",
            spread([r.n for r in p80], "{:.2f}"),
            spread([r.x for r in p80]) + "/s",
            spread([r.r * 1e3 for r in p80]) + " ms",
            spread([r.x * r.r for r in p80], "{:.2f}"),
            f"p95 {spread(p95s)} ms / {limit:.0f} ms = {med(p95s) / limit:.2f}",
            "PASS" if med(p95s) <= limit and errors <= 0.001 * total else "FAIL",
            f"limit = hash {hash_ms:.1f} ms + 30; p50 {spread([r.pct(0.5) * 1e3 for r in p80])} ms, "
            f"p99 {spread([r.pct(0.99) * 1e3 for r in p80])} ms; errors {errors}/{total}",
        )
    )

    over = got["over"]
    refused_p99 = [r.pct(0.99, 503) * 1e3 for r in over]
    timeouts = sum(len(r.statuses.get(0, [])) for r in over)
    other = sum(r.count - r.ok((200, 503)) for r in over)
    no_retry = sum(r.retry_after_missing for r in over)
    served = [r.x_of((200,)) for r in over]
    refused = [r.x_of((503,)) for r in over]
    refused_ok = all(len(r.statuses.get(503, [])) > 0 for r in over) and med(refused_p99) < 50
    rows.append(
        Row(
            "login open loop at 200 % C_hash",
            spread([r.n for r in over], "{:.2f}"),
            f"{spread(served)}/s served + {spread(refused)}/s refused",
            spread([r.r * 1e3 for r in over]) + " ms",
            spread([r.x * r.r for r in over], "{:.2f}"),
            f"503 p99 {spread(refused_p99)} ms / 50 ms = {med(refused_p99) / 50:.2f}",
            "PASS" if refused_ok and timeouts == 0 and other == 0 and no_retry == 0 else "FAIL",
            f"200 p95 {spread([r.pct(0.95, 200) * 1e3 for r in over])} ms; timeouts {timeouts}; "
            f"other statuses {other}; 503 without Retry-After {no_retry}; served/C_hash "
            f"{med(served) / c_hash:.2f}",
        )
    )

    idle_p99 = [r.pct(0.99) * 1e3 for r in got["idle"]]
    busy_p99 = [r.pct(0.99) * 1e3 for r in got["over_health"]]
    ratios = [b / i for b, i in zip(busy_p99, idle_p99, strict=True)]
    health_errors = sum(r.errors((200,)) for r in got["idle"] + got["over_health"])
    rows.append(
        Row(
            f"/health at {HEALTH_RATE:.0f}/s during the 200 % overload",
            spread([r.n for r in got["over_health"]], "{:.3f}"),
            spread([r.x for r in got["over_health"]]) + "/s",
            spread([r.r * 1e3 for r in got["over_health"]], "{:.2f}") + " ms",
            spread([r.x * r.r for r in got["over_health"]], "{:.3f}"),
            f"p99 {spread(busy_p99, '{:.2f}')} ms vs idle {spread(idle_p99, '{:.2f}')} ms = "
            f"{spread(ratios, '{:.2f}')}× (≤ 2)",
            "PASS" if med(ratios) <= 2 and health_errors == 0 else "FAIL",
            f"errors {health_errors}",
        )
    )
    return rows
