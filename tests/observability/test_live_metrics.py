"""What the running services export at ``/metrics`` matches the catalogue (tests/config/promql_metrics.py).

Against ``make dev`` (one uvicorn process per service, single-process prometheus-client): every catalogued
name is declared with its type, every sample carries exactly the catalogue's labels, label values stay
bounded (route templates, no ids), and the journey through the gateway shows up in the counters, the
store latencies and the live gauges. Multiprocess mode (gunicorn) is test_multiprocess.py.
"""

from __future__ import annotations

import re

import httpx
import pytest
from devstack import DevStack
from obs_support import Journey
from promql_metrics import CATALOGUE, CATALOGUE_BY_NAME, SERVICE_METRICS

from chat_shared.testing.metrics import Scrape, scrape
from chat_shared.testing.waiting import eventually

SERVICES = tuple(SERVICE_METRICS)
# Topics each service consumes (CONTRACT §7); events_dlq_total must have a series per topic from start-up.
CONSUMED = {
    "user-service": (),
    "friend-service": ("user.events", "user.online_status"),
    "chat-service": ("friend.events", "user.events", "message.events", "chat.events"),
    "notification-service": ("user.events", "chat.events", "friend.events", "user.online_status", "message.events"),
}
DEPENDENCIES = {
    "user-service": {"mysql", "redis", "kafka"},
    "friend-service": {"mysql", "redis", "kafka"},
    "chat-service": {"mysql", "redis", "mongo", "kafka", "stream"},
    "notification-service": {"mysql", "redis", "kafka"},
}
# Families every prometheus-client process exports on its own.
DEFAULT_PREFIXES = ("python_", "process_")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
RAW_ID = re.compile(r"/\d+(/|$)|[0-9a-f]{24}|[0-9a-f-]{36}")


@pytest.fixture(scope="session")
async def after(stack: DevStack, journey: Journey, http: httpx.AsyncClient) -> dict[str, Scrape]:
    """Every service's ``/metrics`` once the journey's effects have settled (streams closed, events
    consumed, readiness probed)."""
    for url in stack.services.values():
        r = await http.get(f"{url}/ready")
        assert r.status_code == 200, r.text

    async def settled() -> dict[str, Scrape] | None:
        scrapes = {name: await scrape(http, f"{url}/metrics") for name, url in stack.services.items()}
        chat = scrapes["chat-service"]
        done = (
            chat.value("chat_sse_streams_closed_total") >= 1
            and chat.value("chat_sse_streams_open") == 0
            and chat.value("events_consumed_total", topic="message.events") >= 1
            and scrapes["friend-service"].value("events_consumed_total", topic="user.events") >= 2
            and all(s.value("outbox_pending_events") == 0 for s in scrapes.values())
        )
        return scrapes if done else None

    return await eventually(settled, "streams closed, events consumed, outboxes empty")


@pytest.mark.parametrize("service", SERVICES)
def test_every_catalogued_metric_is_declared_with_its_type(service: str, startup: dict[str, Scrape]) -> None:
    """From start-up, before any traffic: ``# HELP`` and ``# TYPE`` for every name of the catalogue.

    prometheus-client (single process) declares a labelled metric that has no sample yet, so a dashboard
    over a metric nobody recorded yet shows 0 rather than a broken query.
    """
    declared = startup[service]
    missing = sorted(n for n in SERVICE_METRICS[service] if n not in declared.types)
    assert not missing, f"{service} does not export {missing}"
    wrong = {
        n: (declared.types[n], CATALOGUE_BY_NAME[n].type)
        for n in SERVICE_METRICS[service]
        if declared.types[n] != CATALOGUE_BY_NAME[n].type
    }
    assert not wrong, f"{service}: (exported, catalogued) types differ: {wrong}"
    assert not sorted(n for n in SERVICE_METRICS[service] if n not in declared.helps), "a metric without # HELP"


@pytest.mark.parametrize("service", SERVICES)
def test_every_exported_metric_is_catalogued(service: str, after: dict[str, Scrape]) -> None:
    """The other direction: what a service exports (its own metrics, not the process defaults) is documented."""
    exported = {
        name
        for name, kind in after[service].types.items()
        if kind != "unknown" and not name.startswith(DEFAULT_PREFIXES) and not name.endswith("_created")
    }
    foreign = {n for n in exported if n in CATALOGUE_BY_NAME and service not in CATALOGUE_BY_NAME[n].services}
    unknown = exported - set(CATALOGUE_BY_NAME)
    assert not unknown, f"{service} exports metrics missing from the catalogue: {sorted(unknown)}"
    assert not foreign, f"{service} exports metrics the catalogue gives to other services: {sorted(foreign)}"


@pytest.mark.parametrize("service", SERVICES)
def test_samples_carry_exactly_the_catalogued_labels(service: str, after: dict[str, Scrape]) -> None:
    checked = 0
    for spec in CATALOGUE:
        if service not in spec.services:
            continue
        names = {
            spec.name[: -len("_total")] + s if spec.type == "counter" else spec.name + s for s in SUFFIXES[spec.type]
        }
        for sample in after[service].samples:
            if sample.name not in names:
                continue
            labels = set(sample.labels) - ({"le"} if sample.name.endswith("_bucket") else set())
            assert labels == set(spec.labels), f"{service}: {sample.name}{sample.labels} vs {spec.labels}"
            if "service" in sample.labels:
                assert sample.labels["service"] == service, f"{sample.name}{sample.labels}"
            checked += 1
    assert checked >= 10, f"only {checked} samples of catalogued metrics: did the journey run?"


@pytest.mark.parametrize("service", SERVICES)
def test_label_values_stay_bounded(service: str, after: dict[str, Scrape]) -> None:
    """Routes are templates (``/rooms/{room_id}/messages``), never raw paths with ids; no label holds an id."""
    routes = after[service].label_values("http_requests_total", "route")
    assert routes, f"{service} counted no request"
    raw = sorted(r for r in routes if RAW_ID.search(r))
    assert not raw, f"{service} labels requests by raw path: {raw}"
    assert all(r.startswith("/") or r == "unmatched" for r in routes), routes
    assert not routes & {"/health", "/ready", "/metrics"}, "probes and scrapes are not counted"
    for sample in after[service].samples:
        for key, value in sample.labels.items():
            if key not in ("route", "le"):
                assert not RAW_ID.search(value) and len(value) <= 64, f"{sample.name}{{{key}={value!r}}}"


@pytest.mark.parametrize("service", SERVICES)
def test_dlq_series_exist_from_start_up(service: str, startup: dict[str, Scrape]) -> None:
    """``events_dlq_total{service, topic}`` at 0 for every consumed topic before any event was consumed:
    the DLQ panel shows 0 (not "No data") and ``increase()`` sees the first dead-lettered event."""
    topics = startup[service].label_values("events_dlq_total", "topic")
    assert set(CONSUMED[service]) <= topics, f"{service}: DLQ series {sorted(topics)}"
    assert startup[service].value("events_dlq_total") == 0


def test_user_service_counts_the_journey(journey: Journey, after: dict[str, Scrape]) -> None:
    m = after["user-service"]
    assert m.value("user_registrations_total") >= journey.counts["registrations"]
    assert m.value("user_logins_total", result="success") >= journey.counts["logins"]
    assert m.value("user_logins_total", result="invalid_credentials") >= journey.counts["failed_logins"]
    assert m.value("user_token_refreshes_total", result="ok") >= journey.counts["refreshes"]
    assert m.value("http_requests_total", route="/auth/register", method="POST", status="201") >= 2
    assert m.value("http_request_duration_seconds_count", route="/auth/login/json", method="POST") >= 3
    assert m.value("events_published_total", topic="user.events", result="ok") >= 2
    assert m.value("events_published_total", topic="user.online_status", result="ok") >= 1


def test_friend_service_counts_the_journey(journey: Journey, after: dict[str, Scrape]) -> None:
    m = after["friend-service"]
    assert m.value("friend_requests_total", action="sent") >= journey.counts["friend_requests"]
    assert m.value("friend_requests_total", action="accepted") >= journey.counts["friend_requests"]
    assert m.value("events_consumed_total", topic="user.events", event_type="UserRegistered") >= 2
    assert m.value("events_published_total", topic="friend.events", result="ok") >= 2
    assert m.series("kafka_consumer_lag", topic="user.events"), "consumer lag of user.events"


def test_chat_service_counts_the_journey(journey: Journey, after: dict[str, Scrape]) -> None:
    m = after["chat-service"]
    assert m.value("chat_rooms_created_total", type="direct") >= 1
    assert m.value("chat_messages_sent_total", message_type="text") >= journey.counts["messages"]
    assert m.value("chat_sse_streams_opened_total") >= journey.counts["streams"]
    assert m.value("chat_sse_streams_closed_total", reason="client") >= journey.counts["streams"]
    assert m.only("chat_sse_streams_open") == 0
    assert m.value("chat_sse_events_delivered_total", event="message.created") >= 1
    assert m.value("chat_message_delivery_latency_seconds_count") >= 1
    assert m.value("http_requests_total", route="/rooms/{room_id}/messages", method="POST", status="201") >= 1
    assert m.value("http_request_duration_seconds_count", route="/stream", method="GET") >= 1
    assert m.value("events_consumed_total", topic="friend.events", result="handled") >= 1
    assert m.value("events_published_total", topic="message.events", result="ok") >= 1


@pytest.mark.parametrize("service", SERVICES)
def test_gauges_and_readiness(service: str, after: dict[str, Scrape]) -> None:
    m = after[service]
    assert m.only("outbox_pending_events", service=service) == 0, "the relay published every event"
    assert m.only("outbox_oldest_pending_age_seconds", service=service) == 0
    assert m.only("http_requests_in_progress", service=service) == 0, "no request is left counted as running"
    up = {s.labels["dependency"]: s.value for s in m.series("service_dependency_up", service=service)}
    assert up == dict.fromkeys(DEPENDENCIES[service], 1.0), up


@pytest.mark.parametrize("service", SERVICES)
def test_store_latency_of_every_store(service: str, after: dict[str, Scrape]) -> None:
    """``store_call_duration_seconds`` for the SQL database (SQLite in make dev, MySQL deployed), Redis
    (every command, pipelines as one call) and, in chat-service, MongoDB (the repository's calls)."""
    m = after[service]
    sql = m.label_values("store_call_duration_seconds_count", "store") & {"mysql", "sqlite"}
    assert sql, f"{service}: no SQL store timings"
    assert m.value("store_call_duration_seconds_count", store=sql.pop(), operation="select") >= 1
    if service == "chat-service":
        ops = {s.labels["operation"] for s in m.series("store_call_duration_seconds_count", store="mongo")}
        assert {"insert", "find"} <= ops, f"mongo operations timed: {sorted(ops)}"
    ops = {s.labels["operation"] for s in m.series("store_call_duration_seconds_count", store="redis")}
    assert ops, f"{service}: no Redis timings"
    if service == "user-service":
        assert "pipeline" in ops, f"login throttling and presence use pipelines: {sorted(ops)}"
