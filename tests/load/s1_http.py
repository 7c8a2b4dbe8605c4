"""S1 — HTTP overhead of user-service: ``/health`` and an authenticated JSON GET.

Target: max ≥ 0.40 × C_http; p99 ≤ 5 ms at half that load (open loop).

No DB-free authenticated route exists in user-service (every authenticated GET reads the user), so the
authenticated one measured is ``GET /users/{id}``: JWT verification + one primary-key MySQL read + one
Redis MGET (presence). It therefore carries a DB round-trip that the target did not budget for.
"""

from __future__ import annotations

import json

from common import Pool, Row, Setup, build, call, closed_loop, med, open_loop, spread

WORKERS = 16
TITLE = "S1 — /health and an authenticated JSON GET"


async def token(setup: Setup) -> str:
    _, email, password = setup.users[0]
    body = json.dumps({"email": email, "password": password}).encode()
    response = await call(setup.port, build("POST", "/auth/login/json", body, {"Content-Type": "application/json"}))
    assert response.status == 200, (response.status, response.body)
    return json.loads(response.body)["access_token"]


async def run(setup: Setup) -> list[Row]:
    print(f"== {TITLE}", flush=True)
    c_http = setup.calibration["C_http"]
    user_id = setup.users[0][0]
    targets = {"/health": build("GET", "/health")}
    found: dict[str, dict[str, list]] = {name: {"max": [], "half": []} for name in ("/health", "/users/{id}")}
    for run_no in range(setup.runs):
        auth = {"Authorization": f"Bearer {await token(setup)}"}
        targets["/users/{id}"] = build("GET", f"/users/{user_id}", headers=auth)
        for name, raw in targets.items():
            await closed_loop(setup.port, lambda raw=raw: raw, WORKERS, setup.warmup, "warm-up")
            top = await closed_loop(
                setup.port, lambda raw=raw: raw, WORKERS, setup.duration, f"{name} max run {run_no + 1}", setup.pid
            )
            print(top.line(), flush=True)
            found[name]["max"].append(top)
        for name, raw in targets.items():
            rate = med([r.x for r in found[name]["max"][-1:]]) / 2
            pool = Pool(setup.port)
            await open_loop(pool, lambda raw=raw: raw, rate, setup.warmup, "warm-up")
            half = await open_loop(
                pool,
                lambda raw=raw: raw,
                rate,
                setup.duration,
                f"{name} open loop {rate:.0f}/s run {run_no + 1}",
                setup.pid,
            )
            pool.close()
            print(half.line(), flush=True)
            found[name]["half"].append(half)

    rows = []
    for name, got in found.items():
        tops, halves = got["max"], got["half"]
        ratios = [r.x / c_http for r in tops]
        errors = sum(r.errors((200,)) for r in tops + halves)
        total = sum(r.count for r in tops + halves)
        error_ok = errors <= 0.001 * total
        ratio_ok = med(ratios) >= 0.40
        rows.append(
            Row(
                f"{name} max, closed loop {WORKERS} conns",
                spread([r.n for r in tops]),
                spread([r.x for r in tops], "{:.0f}") + "/s",
                spread([r.r * 1e3 for r in tops], "{:.2f}") + " ms",
                spread([r.x * r.r for r in tops], "{:.2f}"),
                f"{spread(ratios, '{:.2f}')} × C_http (≥ 0.40)",
                "PASS" if ratio_ok and error_ok else "FAIL",
                f"C_http {c_http:.0f}/s; server {spread([r.cpu_us_per_op() for r in tops], '{:.0f}')} "
                f"CPU-µs/req; errors {errors}/{total}",
            )
        )
        p99s = [r.pct(0.99) * 1e3 for r in halves]
        rows.append(
            Row(
                f"{name} open loop at ½ max",
                spread([r.n for r in halves], "{:.2f}"),
                spread([r.x for r in halves], "{:.0f}") + "/s",
                spread([r.r * 1e3 for r in halves], "{:.2f}") + " ms",
                spread([r.x * r.r for r in halves], "{:.2f}"),
                f"p99 {spread(p99s, '{:.2f}')} ms / 5 ms = {med(p99s) / 5:.2f}",
                "PASS" if med(p99s) <= 5 and error_ok else "FAIL",
                f"p50 {spread([r.pct(0.5) * 1e3 for r in halves], '{:.2f}')} ms, "
                f"p95 {spread([r.pct(0.95) * 1e3 for r in halves], '{:.2f}')} ms; "
                f"server {spread([r.cpu_us_per_op() for r in halves], '{:.0f}')} CPU-µs/req",
            )
        )
    return rows
