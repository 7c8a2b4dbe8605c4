"""Prometheus metrics shared by every service.

Label sets stay bounded: routes are templates, never raw paths or ids. Under gunicorn with several
workers ``PROMETHEUS_MULTIPROC_DIR`` switches prometheus-client to multiprocess mode; gauges then
declare how workers' values combine.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests by route template and status", ["service", "method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route template",
    ["service", "method", "route"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_PROGRESS = Gauge(
    "http_requests_in_progress", "HTTP requests being served", ["service"], multiprocess_mode="livesum"
)
OUTBOX_PENDING = Gauge(
    "outbox_pending_events", "Outbox rows not yet published", ["service"], multiprocess_mode="max"
)
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_pending_age_seconds",
    "Age of the oldest unpublished outbox row",
    ["service"],
    multiprocess_mode="max",
)
EVENTS_PUBLISHED = Counter("events_published_total", "Events published to Kafka", ["service", "topic", "result"])
EVENTS_CONSUMED = Counter(
    "events_consumed_total", "Events consumed by result", ["service", "topic", "event_type", "result"]
)
EVENTS_DLQ = Counter("events_dlq_total", "Events sent to a dead-letter topic", ["service", "topic"])
CONSUMER_LAG = Gauge(
    "kafka_consumer_lag",
    "Records behind the partition's end offset",
    ["service", "topic", "partition", "group"],
    multiprocess_mode="max",
)
STORE_DURATION = Histogram(
    "store_call_duration_seconds",
    "Latency of calls to MySQL, Redis and MongoDB",
    ["service", "store", "operation"],
    buckets=LATENCY_BUCKETS,
)
DEPENDENCY_UP = Gauge(
    "service_dependency_up",
    "1 when the dependency answered the last readiness check",
    ["service", "dependency"],
    multiprocess_mode="min",
)


def render_metrics() -> tuple[bytes, str]:
    """The exposition text for this process, or for all workers in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
