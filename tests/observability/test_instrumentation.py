"""The shared instrumentation in-process: Redis command timing, the HTTP recorder, start-up series, and the
multiprocess mode of every gauge. Fast; no running system needed."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import pytest
from devstack import REPO
from prometheus_client import REGISTRY, Gauge
from redis.exceptions import ResponseError

from chat_shared import metrics
from chat_shared.redis import create_redis


def store_count(service: str, store: str, operation: str) -> float:
    labels = {"service": service, "store": store, "operation": operation}
    return REGISTRY.get_sample_value("store_call_duration_seconds_count", labels) or 0.0


async def test_redis_commands_and_pipelines_are_timed() -> None:
    service = f"obs-{uuid.uuid4().hex[:8]}"
    redis = create_redis("fakeredis://", service)
    try:
        await redis.set("k", "v")
        assert await redis.get("k") == "v"
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr("n")
            pipe.expire("n", 10)
            assert await pipe.execute() == [1, True]
        with pytest.raises(ResponseError):
            await redis.incr("k")  # not an integer: the error reaches the caller, the call is still timed
        pubsub = redis.pubsub()
        await pubsub.subscribe("channel")
        await pubsub.get_message(timeout=0.05)
        await pubsub.aclose()
    finally:
        await redis.aclose()
    assert store_count(service, "redis", "set") == 1
    assert store_count(service, "redis", "get") == 1
    assert store_count(service, "redis", "pipeline") == 1
    assert store_count(service, "redis", "incrby") == 1, "failed commands are timed too (INCR is sent as INCRBY)"
    assert store_count(service, "redis", "expire") == 0, (
        "commands queued in a pipeline are one pipeline call, not timed one by one"
    )
    assert store_count(service, "redis", "subscribe") == 0, "pub/sub waits are not store latency"


async def test_redis_without_a_service_name_records_nothing() -> None:
    redis = create_redis("fakeredis://")
    before = sum(
        s.value
        for m in REGISTRY.collect()
        if m.name == "store_call_duration_seconds"
        for s in m.samples
        if s.name.endswith("_count") and s.labels.get("store") == "redis"
    )
    await redis.set("k", "v")
    await redis.aclose()
    after = sum(
        s.value
        for m in REGISTRY.collect()
        if m.name == "store_call_duration_seconds"
        for s in m.samples
        if s.name.endswith("_count") and s.labels.get("store") == "redis"
    )
    assert after == before


def test_http_metrics_caches_children_and_counts() -> None:
    service = f"obs-{uuid.uuid4().hex[:8]}"
    http = metrics.HttpMetrics(service)
    assert REGISTRY.get_sample_value("http_requests_in_progress", {"service": service}) == 0, (
        "the in-progress series exists from the moment the middleware is built"
    )
    for _ in range(3):
        http.in_progress.inc()
        http.observe("GET", "/rooms/{room_id}", 200, 0.004)
        http.in_progress.dec()
    http.observe("GET", "/rooms/{room_id}", 404, 0.001)
    labels = {"service": service, "method": "GET", "route": "/rooms/{room_id}"}
    assert REGISTRY.get_sample_value("http_requests_total", {**labels, "status": "200"}) == 3
    assert REGISTRY.get_sample_value("http_requests_total", {**labels, "status": "404"}) == 1
    assert REGISTRY.get_sample_value("http_request_duration_seconds_count", labels) == 4
    assert REGISTRY.get_sample_value("http_requests_in_progress", {"service": service}) == 0
    assert len(http._children) == 2


def test_consumer_series_start_at_zero() -> None:
    service = f"obs-{uuid.uuid4().hex[:8]}"
    metrics.init_consumer_series(service, ["user.events", "friend.events"])
    for topic in ("user.events", "friend.events"):
        assert REGISTRY.get_sample_value("events_dlq_total", {"service": service, "topic": topic}) == 0


def test_shared_gauges_use_live_multiprocess_modes() -> None:
    """A dead worker's gauge value must not linger: every shared gauge is ``live*``."""
    gauges = [v for v in vars(metrics).values() if isinstance(v, Gauge)]
    assert len(gauges) >= 5
    modes = {g._name: g._multiprocess_mode for g in gauges}
    assert all(mode.startswith("live") for mode in modes.values()), modes
    assert modes["http_requests_in_progress"] == "livesum"
    assert modes["service_dependency_up"] == "livemin"
    assert modes["outbox_pending_events"] == modes["kafka_consumer_lag"] == "livemax"


def test_service_gauges_use_live_multiprocess_modes() -> None:
    """The services' own gauges too (read from their source: each service's ``app`` package is separate)."""
    found: dict[str, str] = {}
    for path in sorted(REPO.glob("services/*-service/app/core/metrics.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Gauge":
                name = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else "?"
                mode = next(
                    (
                        k.value.value
                        for k in node.keywords
                        if k.arg == "multiprocess_mode" and isinstance(k.value, ast.Constant)
                    ),
                    "all",
                )
                found[str(name)] = str(mode)
    assert found, "no service gauge found"
    not_live = {n: m for n, m in found.items() if not m.startswith("live")}
    assert not not_live, f"gauges whose dead workers' values linger: {not_live}"
    assert Path(REPO / "services/shared/src/chat_shared/gunicorn_conf.py").read_text().count("mark_process_dead")
