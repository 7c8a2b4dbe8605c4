"""What the Prometheus instrumentation costs a request, measured two ways.

**Micro (in-process, stable on a shared machine).** The shared middleware (``RequestContextMiddleware``,
JSON access line included, written to /dev/null) around a FastAPI route returning a small JSON body, called
as ASGI directly (no sockets) many times, with the HTTP metrics recorded (``on``) or replaced by no-ops
(``off``), interleaved, best of several repeats, in CPU time of the process (``time.process_time``: other
processes on a shared machine do not count). Once in single-process mode and once in a child process
with ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn's mode, where every write goes to an mmap'd file). Also
the cost of rendering ``/metrics`` with the series a service has after some traffic. The micro numbers
are the CPU a request spends in the instrumentation; they are compared with the CPU of a whole request.

**End to end (``--e2e``, noisy on a loaded machine).** Three user-service processes side by side
(uvicorn, one worker, the services' flags, LOG_LEVEL=INFO with the output to /dev/null), identical but for:

- ``off``: the middleware's HTTP metrics replaced by no-ops (``http_requests_total``,
  ``http_request_duration_seconds``, ``http_requests_in_progress``); everything else unchanged;
- ``on``: as deployed;
- ``scraped``: as deployed, and ``/metrics`` fetched every second in the background (15 s in production).

Routes: ``GET /.well-known/jwks.json`` (no I/O: the cheapest route, where the instrumentation's share is
largest) and ``GET /profile/me`` (JWT verification, one SQLite read). Per run and variant: server CPU per
request at maximum throughput (closed loop, 16 connections) and p50/p99 at a fixed open-loop rate (half the
``off`` maximum); variants measured in turn within a run. Target: < 5 %.

    uv run python tests/load/metrics_overhead.py              # micro only (~20 s)
    uv run python tests/load/metrics_overhead.py --e2e --runs 3 --duration 5

Run by hand (not a test); the result and its command go to docs/observability.md by hand too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
USER_DIR = ROOT / "services/user-service"
VARIANT_ENV = "METRICS_OVERHEAD_VARIANT"
VARIANTS = ("off", "on", "scraped")
PASSWORD = "metrics-overhead-bench-password"


# --------------------------------------------------------------------------- the server side


class _NoMetric:
    """Stands in for a prometheus-client metric: accepts every call, records nothing."""

    def labels(self, *_: Any, **__: Any) -> _NoMetric:
        return self

    def inc(self, *_: Any) -> None:
        return None

    def dec(self, *_: Any) -> None:
        return None

    def observe(self, *_: Any) -> None:
        return None


def _service_app() -> Any:
    """user-service's app; for the ``off`` variant with the middleware's HTTP metrics as no-ops."""
    if os.environ.get(VARIANT_ENV) == "off":
        from chat_shared import metrics

        metrics.HTTP_REQUESTS = metrics.HTTP_IN_PROGRESS = metrics.HTTP_DURATION = _NoMetric()  # type: ignore[assignment]
    sys.path.insert(0, str(USER_DIR))
    from main import app  # user-service's main.py

    return app


def __getattr__(name: str) -> Any:
    """``uvicorn metrics_overhead:app`` imports the service only then, not when this file runs as a script."""
    if name == "app":
        return _service_app()
    raise AttributeError(name)


# --------------------------------------------------------------------------- micro benchmark


def _micro(iterations: int, repeats: int) -> dict[str, float]:
    """In this process: µs per request through the middleware with metrics on and off, and /metrics cost."""
    import logging
    import timeit

    from fastapi import FastAPI

    from chat_shared import metrics
    from chat_shared.logging import configure_logging
    from chat_shared.middleware import RequestContextMiddleware

    configure_logging("bench", "INFO")
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    app = FastAPI()

    @app.get("/keys/{kid}")
    async def keys(kid: str) -> dict[str, Any]:
        return {"keys": [{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": "x" * 342, "e": "AQAB"}]}

    scope_template = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/keys/current",
        "raw_path": b"/keys/current",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: dict[str, Any]) -> None:
        return None

    real = (metrics.HTTP_REQUESTS, metrics.HTTP_IN_PROGRESS, metrics.HTTP_DURATION)
    off = _NoMetric()

    def set_metrics(on: bool) -> None:
        metrics.HTTP_REQUESTS, metrics.HTTP_IN_PROGRESS, metrics.HTTP_DURATION = real if on else (off, off, off)

    # One middleware per variant, each built under its own metrics (a middleware may keep label children).
    wrapped = {}
    for variant in ("off", "on"):
        set_metrics(variant == "on")
        wrapped[variant] = RequestContextMiddleware(app, "bench")

    async def requests(variant: str, count: int) -> None:
        middleware = wrapped[variant]
        for _ in range(count):
            await middleware(dict(scope_template), receive, send)

    loop = asyncio.new_event_loop()
    best = {"on": float("inf"), "off": float("inf")}
    for variant in ("off", "on"):  # warm-up (routing caches, first labels)
        set_metrics(variant == "on")
        loop.run_until_complete(requests(variant, iterations // 10))
    for repeat in range(repeats):
        for variant in ("off", "on") if repeat % 2 else ("on", "off"):
            set_metrics(variant == "on")
            started = time.process_time()  # CPU time: other processes on a shared machine do not count
            loop.run_until_complete(requests(variant, iterations))
            best[variant] = min(best[variant], (time.process_time() - started) / iterations)
    set_metrics(True)

    def record() -> None:  # exactly what the middleware records per request
        in_progress = metrics.HTTP_IN_PROGRESS.labels("bench")
        in_progress.inc()
        in_progress.dec()
        metrics.HTTP_REQUESTS.labels("bench", "GET", "/keys/{kid}", "200").inc()
        metrics.HTTP_DURATION.labels("bench", "GET", "/keys/{kid}").observe(0.0012)

    http = metrics.HttpMetrics("bench")

    def record_cached() -> None:  # the same with the label children kept (chat_shared.metrics.HttpMetrics)
        http.in_progress.inc()
        http.in_progress.dec()
        http.observe("GET", "/keys/{kid}", 200, 0.0012)

    record_s = min(timeit.repeat(record, number=iterations, repeat=repeats, timer=time.process_time)) / iterations
    cached_s = (
        min(timeit.repeat(record_cached, number=iterations, repeat=repeats, timer=time.process_time)) / iterations
    )
    # /metrics with about what a service holds after traffic: 40 routes × 3 statuses, 30 store operations.
    for i in range(40):
        for status in ("200", "401", "404"):
            metrics.HTTP_REQUESTS.labels("bench", "GET", f"/route{i}", status).inc()
        metrics.HTTP_DURATION.labels("bench", "GET", f"/route{i}").observe(0.01)
    for i in range(30):
        metrics.STORE_DURATION.labels("bench", "redis", f"op{i}").observe(0.001)
    body, _ = metrics.render_metrics()
    render_s = min(timeit.repeat(metrics.render_metrics, number=20, repeat=3, timer=time.process_time)) / 20
    loop.close()
    return {
        "request_on_us": best["on"] * 1e6,
        "request_off_us": best["off"] * 1e6,
        "record_us": record_s * 1e6,
        "cached_us": cached_s * 1e6,
        "render_ms": render_s * 1e3,
        "render_kib": len(body) / 1024,
    }


def micro_report(iterations: int, repeats: int) -> dict[str, dict[str, float]]:
    """The micro benchmark in single-process mode (here) and multiprocess mode (a child process).

    The first figure is the robust one: the CPU of exactly the calls the middleware makes per request,
    best of many repeats. The whole-request difference (on − off) is shown as a cross-check; on a shared
    machine its noise (±20 µs) exceeds the effect.
    """
    rows = {"single process": _micro(iterations, repeats)}
    with tempfile.TemporaryDirectory(prefix="metrics-mp-") as folder:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": folder, "PYTHONPATH": str(HERE)}
        out = subprocess.run(
            [sys.executable, str(Path(__file__)), "--micro-child", str(iterations), str(repeats)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        ).stdout
        rows["multiprocess (gunicorn)"] = json.loads(out.strip().splitlines()[-1])
    print(
        "\n| mode | metric calls per request, labels() each time / children cached (µs CPU) | "
        "cheapest request in-process, metrics off (µs) | share (uncached / cached) | "
        "whole request on − off (µs, noisy) | /metrics render (ms CPU, KiB) |"
    )
    print("|---|---|---|---|---|---|")
    for mode, r in rows.items():
        off = r["request_off_us"]
        print(
            f"| {mode} | {r['record_us']:.1f} / {r['cached_us']:.1f} | {off:.0f} | "
            f"{r['record_us'] / off * 100:.1f} % / {r['cached_us'] / off * 100:.1f} % | "
            f"{r['request_on_us'] - off:+.0f} | {r['render_ms']:.1f}, {r['render_kib']:.0f} |",
            flush=True,
        )
    return rows


# --------------------------------------------------------------------------- the driver


async def end_to_end(args: argparse.Namespace, micro: dict[str, dict[str, float]]) -> None:
    from common import Pool, Result, build, call, closed_loop, med, open_loop, start_uvicorn, stop, wait_ready

    from chat_shared.testing.broker import Broker, free_port

    broker = Broker().start()
    folder = tempfile.TemporaryDirectory(prefix="metrics-overhead-")
    servers: dict[str, subprocess.Popen[bytes]] = {}
    ports: dict[str, int] = {}
    scraper: asyncio.Task[None] | None = None
    scrape_times: list[float] = []
    try:
        for variant in VARIANTS:
            ports[variant] = port = free_port()
            env = {
                "ENVIRONMENT": "development",
                "RUN_MIGRATIONS_ON_START": "true",
                "LOG_LEVEL": "INFO",
                "DATABASE_URL": f"sqlite+aiosqlite:///{folder.name}/{variant}.db",
                "REDIS_URL": "fakeredis://",
                "KAFKA_BOOTSTRAP": broker.bootstrap,
                "KAFKA_ENABLE_IDEMPOTENCE": "false",
                "DEV_KEY_FILE": f"{folder.name}/{variant}-jwt.pem",
                VARIANT_ENV: variant,
                "PYTHONPATH": str(HERE),
            }
            servers[variant] = start_uvicorn("metrics_overhead:app", HERE, port, env)
        for variant, server in servers.items():
            await wait_ready(ports[variant], "/ready", server, timeout=120)
        requests: dict[str, dict[str, bytes]] = {}
        for variant, port in ports.items():
            email = f"bench_{variant}@example.com"
            body = json.dumps({"email": email, "username": f"bench_{variant}", "password": PASSWORD}).encode()
            r = await call(port, build("POST", "/auth/register", body, {"Content-Type": "application/json"}))
            assert r.status == 201, r.body
            body = json.dumps({"email": email, "password": PASSWORD}).encode()
            r = await call(port, build("POST", "/auth/login/json", body, {"Content-Type": "application/json"}))
            assert r.status == 200, r.body
            auth = {"Authorization": f"Bearer {json.loads(r.body)['access_token']}"}
            requests[variant] = {
                "/.well-known/jwks.json": build("GET", "/.well-known/jwks.json"),
                "/profile/me": build("GET", "/profile/me", headers=auth),
            }

        async def scrape_forever(port: int) -> None:
            while True:
                started = time.perf_counter()
                with contextlib.suppress(Exception):
                    response = await call(port, build("GET", "/metrics"))
                    if response.status == 200:
                        scrape_times.append(time.perf_counter() - started)
                await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - started)))

        scraper = asyncio.create_task(scrape_forever(ports["scraped"]))
        routes = list(requests["off"])
        found: dict[tuple[str, str], list[tuple[Result, Result]]] = {}
        print(
            f"\nend to end: {args.runs} run(s) × {args.duration:.0f} s, load avg {os.getloadavg()[0]:.1f}", flush=True
        )
        for run_no in range(args.runs):
            for route in routes:
                rate = 0.0
                for variant in VARIANTS:
                    raw = requests[variant][route]
                    pid = servers[variant].pid
                    await closed_loop(ports[variant], lambda raw=raw: raw, args.connections, 1.0, "warm-up")
                    top = await closed_loop(
                        ports[variant],
                        lambda raw=raw: raw,
                        args.connections,
                        args.duration,
                        f"{route} {variant} max run {run_no + 1}",
                        pid,
                    )
                    rate = rate or top.x / 2  # the same fixed rate for the three variants: half of off's max
                    pool = Pool(ports[variant])
                    half = await open_loop(
                        pool,
                        lambda raw=raw: raw,
                        rate,
                        args.duration,
                        f"{route} {variant} {rate:.0f}/s run {run_no + 1}",
                        pid,
                    )
                    pool.close()
                    print(top.line(), flush=True)
                    print(half.line(), flush=True)
                    found.setdefault((route, variant), []).append((top, half))

        record_us = micro["multiprocess (gunicorn)"]["record_us"]
        print(
            f"\n| route | variant | server CPU-µs/request | max req/s | p50 ms | p99 ms | CPU vs off | p50 vs off |"
            f" metric calls ({record_us:.1f} µs, multiprocess) / CPU of off |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for route in routes:
            base_cpu = med([t.cpu_us_per_op() for t, _ in found[(route, "off")]])
            base_p50 = med([h.pct(0.5) for _, h in found[(route, "off")]])
            for variant in VARIANTS:
                got = found[(route, variant)]
                cpu = med([t.cpu_us_per_op() for t, _ in got])
                p50 = med([h.pct(0.5) for _, h in got])
                p99 = med([h.pct(0.99) for _, h in got])
                x = med([t.x for t, _ in got])
                share = f"{record_us / base_cpu * 100:.1f} %" if variant == "off" else ""
                print(
                    f"| `{route}` | {variant} | {cpu:.0f} | {x:.0f} | {p50 * 1e3:.2f} | {p99 * 1e3:.2f} | "
                    f"{(cpu / base_cpu - 1) * 100:+.1f} % | {(p50 / base_p50 - 1) * 100:+.1f} % | {share} |"
                )
        if scrape_times:
            metrics_text = (await call(ports["scraped"], build("GET", "/metrics"))).body
            lines = metrics_text.count(b"\n")
            print(
                f"\n/metrics: {len(scrape_times)} scrapes, median {med(scrape_times) * 1e3:.1f} ms, "
                f"{len(metrics_text) / 1024:.0f} KiB, {lines} lines"
            )
    finally:
        if scraper is not None:
            scraper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scraper
        for server in servers.values():
            stop(server)
        broker.stop()
        folder.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=2000, help="micro: requests per repeat")
    parser.add_argument("--repeats", type=int, default=31, help="micro: repeats (the best one counts)")
    parser.add_argument("--e2e", action="store_true", help="also the end-to-end comparison (about 1 min per run)")
    parser.add_argument("--duration", type=float, default=5.0, help="e2e: seconds per measurement window")
    parser.add_argument("--runs", type=int, default=3, help="e2e: runs")
    parser.add_argument("--connections", type=int, default=16, help="e2e: closed-loop connections")
    parser.add_argument("--micro-child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.micro_child:
        print(json.dumps(_micro(*args.micro_child)))
        return 0
    print(f"metrics overhead: {os.cpu_count()} CPUs, load avg {os.getloadavg()[0]:.1f}", flush=True)
    micro = micro_report(args.iterations, args.repeats)
    if args.e2e:
        import uvloop

        uvloop.run(end_to_end(args, micro))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
