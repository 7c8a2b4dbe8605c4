"""Prometheus metrics shared by every service.

Label sets stay bounded: routes are templates, never raw paths or ids. Under gunicorn with several
workers ``PROMETHEUS_MULTIPROC_DIR`` switches prometheus-client to multiprocess mode; gauges then
declare how workers' values combine, always with a ``live*`` mode: gunicorn's ``child_exit`` hook
(``chat_shared.gunicorn_conf``) deletes a dead worker's live-gauge files, so a crashed worker's last
value (its open requests, a lag it saw, a store it found down) cannot linger until the container
restarts. Counters and histograms of a dead worker are kept and summed: they happened.

- ``livesum``: each worker holds its own share (requests in flight, open streams);
- ``livemax``: one worker's view is the truth and the others report 0 or the same (the outbox relay's
  backlog, a partition's lag as its one consumer sees it);
- ``livemin``: any worker seeing a dependency down says down.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

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
    "outbox_pending_events", "Outbox rows not yet published", ["service"], multiprocess_mode="livemax"
)
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_pending_age_seconds",
    "Age of the oldest unpublished outbox row",
    ["service"],
    multiprocess_mode="livemax",
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
    multiprocess_mode="livemax",
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
    multiprocess_mode="livemin",
)


class HttpMetrics:
    """The HTTP metrics of one service's middleware, with the labelled children cached.

    ``labels()`` costs a lock and a dict lookup on the metric for every call; keeping the children per
    (method, route, status) halves the per-request cost of the instrumentation (tests/load/metrics_overhead.py).
    The cache is as bounded as the label sets themselves (route templates, status codes). Creating it
    also creates the service's ``http_requests_in_progress`` series, so it is there (at 0) from start-up.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self.in_progress = HTTP_IN_PROGRESS.labels(service)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request and its duration."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                HTTP_REQUESTS.labels(self.service, method, route, str(status)),
                HTTP_DURATION.labels(self.service, method, route),
            )
        children[0].inc()
        children[1].observe(seconds)


def init_consumer_series(service: str, topics: Iterable[str]) -> None:
    """Create the zero-valued ``events_dlq_total`` series of every topic a consumer reads, at its start.

    A labelled counter has no series until its first increment, and in multiprocess mode not even its
    ``# TYPE`` line: a DLQ panel would show "No data" (indistinguishable from a broken scrape) and
    ``increase()`` could not see the first dead-lettered event. ``.labels()`` alone writes a 0 sample.
    """
    for topic in topics:
        EVENTS_DLQ.labels(service, topic)


def observe_store_call(service: str, store: str, operation: str, seconds: float) -> None:
    """Record one store call in ``store_call_duration_seconds``; never raises (metrics must not break a call)."""
    try:
        STORE_DURATION.labels(service, store, operation).observe(seconds)
    except Exception:  # pragma: no cover - defensive
        logging.getLogger(__name__).exception("metrics_failed")


def render_metrics() -> tuple[bytes, str]:
    """The exposition text for this process, or for all workers in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
