"""Every metric an alert rule or a dashboard queries is exported by someone: one of our services (the
catalogue of docs/observability.md, mirrored by promql_metrics.SERVICE_METRICS) or a known exporter."""

from __future__ import annotations

import pytest
from promql_metrics import (
    CATALOGUE,
    CATALOGUE_BY_NAME,
    SERVICE_METRICS,
    TARGET_LABELS,
    base_name,
    catalogue_from_doc,
    metric_names,
    metric_names_in_configs,
    promql_expressions,
    selectors,
)

EXPORTER_JOBS = {
    "kong",
    "mysqld-exporter",
    "mongodb-exporter",
    "redis-exporter",
    "kafka-exporter",
    "node-exporter",
    "cadvisor",
    "prometheus",
}


def test_there_are_expressions_to_check() -> None:
    expressions = promql_expressions()
    assert sum(1 for where, _ in expressions if where.startswith("infrastructure/docker/prometheus")) >= 7
    assert sum(1 for where, _ in expressions if where.startswith("infrastructure/docker/grafana")) >= 50


def test_every_metric_is_known() -> None:
    grouped = metric_names_in_configs()
    assert "unknown" not in grouped, f"metrics nobody exports: {sorted(grouped.get('unknown', ()))}"
    assert set(grouped) <= set(SERVICE_METRICS) | EXPORTER_JOBS
    for service, names in SERVICE_METRICS.items():
        assert grouped.get(service, set()) <= names


def test_every_service_metric_is_shown_somewhere() -> None:
    """The catalogue is not only exported: each metric is on a dashboard or in an alert."""
    used = set().union(*metric_names_in_configs().values())
    assert {m.name for m in CATALOGUE} <= used, sorted({m.name for m in CATALOGUE} - used)


def test_matchers_of_service_metrics_use_their_labels() -> None:
    for where, expr in promql_expressions():
        for selector in selectors(expr):
            spec = CATALOGUE_BY_NAME.get(base_name(selector.name))
            if spec is None:
                continue
            allowed = set(spec.labels) | TARGET_LABELS | ({"le"} if spec.type == "histogram" else set())
            assert selector.labels <= allowed, f"{where}: {selector.name} has no label {selector.labels - allowed}"


def test_histograms_are_queried_by_their_series() -> None:
    for where, expr in promql_expressions():
        for selector in selectors(expr):
            spec = CATALOGUE_BY_NAME.get(selector.name)
            assert spec is None or spec.type != "histogram", f"{where}: use {selector.name}_bucket/_count/_sum"


def test_catalogue_matches_the_docs_table() -> None:
    documented = catalogue_from_doc()
    assert set(documented) == set(CATALOGUE_BY_NAME)
    for name, spec in CATALOGUE_BY_NAME.items():
        assert documented[name] == spec, name


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("rate(http_requests_total[5m])", {"http_requests_total"}),
        (
            "histogram_quantile(0.95, sum by (service, le) "
            '(rate(http_request_duration_seconds_bucket{route!="/x"}[5m])))',
            {"http_request_duration_seconds"},
        ),
        (
            "rate(http_request_duration_seconds_sum[5m]) / rate(http_request_duration_seconds_count[5m])",
            {"http_request_duration_seconds"},
        ),
        (
            'sum by (group, topic) (label_replace(kafka_consumergroup_lag, "group", "$1", "consumergroup", "(.+)"))',
            {"kafka_consumergroup_lag"},
        ),
        ("kafka_consumergroup_lag_sum", {"kafka_consumergroup_lag_sum"}),  # a gauge, not a histogram's _sum
        ("events_dlq_total unless events_dlq_total offset 10m", {"events_dlq_total"}),
        (
            'sum(up{job="$service"}) and on(job) group_left(service) max by (job) (scrape_duration_seconds) > 1e3',
            {"up", "scrape_duration_seconds"},
        ),
        ("sum(rate(x_total[$__rate_interval])) * 60", {"x_total"}),
        ("label_values(outbox_pending_events, service)", {"outbox_pending_events"}),
        ('count_values("version", kong_node_info) unless bottomk(1, redis_up)', {"kong_node_info", "redis_up"}),
    ],
)
def test_metric_names_tokenizer(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
