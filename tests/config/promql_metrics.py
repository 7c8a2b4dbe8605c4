"""Which metrics the alert rules and dashboards query, and which metrics our services export.

``SERVICE_METRICS`` (service name -> metric names) mirrors the catalogue tables of
docs/observability.md; ``test_config_metrics.py`` keeps the two equal. Names are written as PromQL uses
them: counters with their ``_total``, histograms by their base name (a query's ``_bucket``, ``_count``
and ``_sum`` map back to it). A test of what a running service exposes at ``/metrics`` can compare
against this: prometheus-client writes ``# TYPE <name> <type>`` with exactly these names (counters
with ``_total``), also for a labelled metric that has no sample yet in single-process mode. In
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set) a metric appears only once some worker has
recorded a sample, so such a test should either run single-process or first exercise the code paths.

``metric_names_in_configs()`` reads every PromQL expression of the alert rules
(infrastructure/docker/prometheus/alerts/*.yml) and of the Grafana dashboards
(infrastructure/docker/grafana/dashboards/*.json: Prometheus targets and query variables) and groups the
metric names they use by where those metrics come from: one of our services, an exporter job, Prometheus
itself, or ``"unknown"`` for a name nobody exports.

Standalone: standard library and PyYAML only, no network. Import it with ``tests/config`` on
``sys.path`` (pytest's default rootdir-relative import does that for the tests in this folder).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
ALERTS_DIR = REPO / "infrastructure/docker/prometheus/alerts"
DASHBOARDS_DIR = REPO / "infrastructure/docker/grafana/dashboards"
OBSERVABILITY_DOC = REPO / "docs/observability.md"

SERVICES = ("user-service", "friend-service", "chat-service", "notification-service")
ALL = frozenset(SERVICES)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    type: str  # counter | gauge | histogram
    labels: tuple[str, ...]
    services: frozenset[str]


def _m(name: str, type_: str, labels: str, services: frozenset[str] | str) -> MetricSpec:
    owners = frozenset({services}) if isinstance(services, str) else services
    return MetricSpec(name, type_, tuple(labels.split()) if labels else (), owners)


# The catalogue: docs/observability.md "Metric catalogue" has the same rows with their meaning.
CATALOGUE: tuple[MetricSpec, ...] = (
    # every service: shared middleware, outbox relay, consumer runner, stores, readiness
    _m("http_requests_total", "counter", "service method route status", ALL),
    _m("http_request_duration_seconds", "histogram", "service method route", ALL),
    _m("http_requests_in_progress", "gauge", "service", ALL),
    _m("outbox_pending_events", "gauge", "service", ALL),
    _m("outbox_oldest_pending_age_seconds", "gauge", "service", ALL),
    _m("events_published_total", "counter", "service topic result", ALL),
    _m("events_consumed_total", "counter", "service topic event_type result", ALL),
    _m("events_dlq_total", "counter", "service topic", ALL),
    _m("kafka_consumer_lag", "gauge", "service topic partition group", ALL),
    _m("store_call_duration_seconds", "histogram", "service store operation", ALL),
    _m("service_dependency_up", "gauge", "service dependency", ALL),
    # user-service
    _m("user_registrations_total", "counter", "", "user-service"),
    _m("user_logins_total", "counter", "result", "user-service"),
    _m("user_login_throttled_total", "counter", "scope", "user-service"),
    _m("user_online_users", "gauge", "", "user-service"),
    _m("user_token_refreshes_total", "counter", "result", "user-service"),
    _m("user_auth_overload_refused_total", "counter", "", "user-service"),
    _m("user_avatar_uploads_signed_total", "counter", "", "user-service"),
    _m("user_avatar_uploads_verified_total", "counter", "", "user-service"),
    _m("user_avatar_uploads_refused_total", "counter", "reason", "user-service"),
    # friend-service
    _m("friend_requests_total", "counter", "action", "friend-service"),
    _m("friend_friendships_removed_total", "counter", "", "friend-service"),
    _m("friend_blocks_total", "counter", "action", "friend-service"),
    _m("friend_user_lookup_fallback_total", "counter", "result", "friend-service"),
    # chat-service
    _m("chat_rooms_created_total", "counter", "type", "chat-service"),
    _m("chat_messages_sent_total", "counter", "message_type", "chat-service"),
    _m("chat_sse_streams_open", "gauge", "", "chat-service"),
    _m("chat_sse_streams_opened_total", "counter", "", "chat-service"),
    _m("chat_sse_streams_closed_total", "counter", "reason", "chat-service"),
    _m("chat_sse_events_delivered_total", "counter", "event", "chat-service"),
    _m("chat_message_delivery_latency_seconds", "histogram", "", "chat-service"),
    _m("chat_sse_replayed_events_total", "counter", "", "chat-service"),
    _m("chat_sse_resets_total", "counter", "", "chat-service"),
    _m("chat_permission_confirms_total", "counter", "result", "chat-service"),
    _m("chat_ephemeral_events_published_total", "counter", "event", "chat-service"),
    _m("chat_ephemeral_events_delivered_total", "counter", "event", "chat-service"),
    _m("chat_presence_stale_total", "counter", "", "chat-service"),
    _m("chat_search_latency_seconds", "histogram", "scope", "chat-service"),
    _m("chat_attachment_uploads_signed_total", "counter", "kind", "chat-service"),
    _m("chat_attachment_uploads_verified_total", "counter", "kind", "chat-service"),
    _m("chat_attachment_uploads_refused_total", "counter", "reason", "chat-service"),
    _m("chat_thumbnails_total", "counter", "result", "chat-service"),
    _m("chat_thumbnail_latency_seconds", "histogram", "", "chat-service"),
    _m("chat_attachments_swept_total", "counter", "reason", "chat-service"),
    # notification-service
    _m("notification_subscriptions_total", "counter", "type action", "notification-service"),
    _m("notification_decisions_total", "counter", "result", "notification-service"),
    _m("notification_pushes_total", "counter", "channel host result", "notification-service"),
    _m("notification_push_duration_seconds", "histogram", "channel", "notification-service"),
    _m("notification_push_delay_seconds", "histogram", "", "notification-service"),
    _m("notification_mails_total", "counter", "kind result", "notification-service"),
)
CATALOGUE_BY_NAME: dict[str, MetricSpec] = {m.name: m for m in CATALOGUE}

SERVICE_METRICS: dict[str, set[str]] = {
    service: {m.name for m in CATALOGUE if service in m.services} for service in SERVICES
}

# Labels Prometheus adds to every series of a target (job, instance) and the scrape config's `service`
# target label on our three jobs: valid in a matcher of any of our metrics.
TARGET_LABELS = frozenset({"job", "instance", "service"})

# Exporters and Kong: a metric name's prefix tells its job. `kafka_consumer_lag` is ours (the catalogue
# is looked up first), every other kafka_* name is kafka-exporter's.
EXPORTER_PREFIXES: dict[str, str] = {
    "mysql_": "mysqld-exporter",
    "mongodb_": "mongodb-exporter",
    "redis_": "redis-exporter",
    "kafka_": "kafka-exporter",
    "kong_": "kong",
    "node_": "node-exporter",
    "container_": "cadvisor",
}
# Series Prometheus writes itself for every target, and its alert state.
PROMETHEUS_METRICS = frozenset(
    {"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added", "ALERTS", "ALERTS_FOR_STATE"}
)
# Exporter histograms (Kong 3.x prometheus plugin), so their _bucket/_count/_sum map to a base name.
EXPORTER_HISTOGRAMS = frozenset({"kong_request_latency_ms", "kong_upstream_latency_ms", "kong_kong_latency_ms"})
HISTOGRAMS = frozenset(m.name for m in CATALOGUE if m.type == "histogram") | EXPORTER_HISTOGRAMS

# --------------------------------------------------------------------------------------------- PromQL
# Words that are never metric names: keywords, binary set operators, modifiers, literals. Functions and
# aggregations are recognised by the "(" that follows them (or by "by"/"without" before it).
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"inf", "nan", "start", "end"}
    | {"sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "group"}
    | {"count_values", "limitk", "limit_ratio", "atan2"}
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_LABEL_VALUES = re.compile(r"^\s*label_values\s*\((?P<selector>.*),\s*\w+\s*\)\s*$", re.DOTALL)
_TOKEN = re.compile(
    r"(?P<number>\d[\w.]*|\.\d[\w.]*)"  # 0.95, 5m, 1e3, 0x1f, 1h30m
    r"|(?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)"
    r"|(?P<matchers>\{[^{}]*\})"
    r"|(?P<other>\S)"
)
_MATCHER_LABEL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")


@dataclass(frozen=True)
class Selector:
    """One metric name of an expression with the label names its matchers use."""

    name: str
    labels: frozenset[str]


def selectors(expr: str) -> list[Selector]:
    """The metric selectors of one PromQL expression (Grafana variables allowed), in order."""
    label_values = _LABEL_VALUES.match(expr)
    if label_values:  # Grafana's label_values(<selector>, <label>): only the selector is PromQL
        expr = label_values.group("selector")
    # Strings go first: they may hold anything ("$1", "{", "le"). Matchers keep their label names but
    # lose their values (strings, already blanked), so a matcher block is kept whole as one token.
    text = _STRING.sub('""', expr)
    text = _GRAFANA_VARIABLE.sub("1", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    found: list[Selector] = []
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(text)]
    for i, (kind, value) in enumerate(tokens):
        if kind != "ident" or value in _KEYWORDS:
            continue
        following = tokens[i + 1] if i + 1 < len(tokens) else (None, "")
        if following == ("other", "("):  # a function call
            continue
        labels = frozenset(_MATCHER_LABEL.findall(following[1])) if following[0] == "matchers" else frozenset()
        found.append(Selector(value, labels))
    # A selector made of matchers only ({__name__="x"}) names its metric in a string: not used here.
    return found


def metric_names(expr: str) -> set[str]:
    """Base metric names of one PromQL expression."""
    return {base_name(s.name) for s in selectors(expr)}


def base_name(name: str) -> str:
    """``x_bucket``/``x_count``/``x_sum`` of a known histogram ``x`` -> ``x``; any other name unchanged."""
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix) and name[: -len(suffix)] in HISTOGRAMS:
            return name[: -len(suffix)]
    return name


def origins(name: str) -> list[str]:
    """Who exports a metric: our services that have it, else the exporter job, Prometheus, or unknown."""
    spec = CATALOGUE_BY_NAME.get(name)
    if spec is not None:
        return sorted(spec.services)
    if name in PROMETHEUS_METRICS:
        return ["prometheus"]
    for prefix, job in EXPORTER_PREFIXES.items():
        if name.startswith(prefix):
            return [job]
    return ["unknown"]


# ------------------------------------------------------------------------------------------- configs
def alert_expressions() -> Iterator[tuple[str, str]]:
    """(where, expr) for every rule of every rules file."""
    for path in sorted(ALERTS_DIR.glob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in document["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                yield f"{path.relative_to(REPO)}: {name}", str(rule["expr"])


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    """(where, expr) for every Prometheus target and query variable of every dashboard."""
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        where = str(path.relative_to(REPO))
        for panel in _panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                datasource = target.get("datasource") or panel.get("datasource") or {}
                if datasource.get("type") == "prometheus" and target.get("expr"):
                    yield f"{where}: {panel.get('title')} [{target.get('refId')}]", target["expr"]
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable.get("type") == "query" and (variable.get("datasource") or {}).get("type") == "prometheus":
                query = variable.get("query")
                text = query.get("query", "") if isinstance(query, dict) else str(query or "")
                if text:
                    yield f"{where}: variable ${variable['name']}", text


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        nested = panel.get("panels")
        if isinstance(nested, list):  # collapsed rows keep their panels inside
            yield from _panels(nested)


def promql_expressions() -> list[tuple[str, str]]:
    """Every PromQL expression of the alert rules and the dashboards, with where it is."""
    return [*alert_expressions(), *dashboard_expressions()]


def metric_names_in_configs() -> dict[str, set[str]]:
    """Metric names used by the alert rules and dashboards, grouped by who exports them.

    Keys: ``user-service``, ``friend-service``, ``chat-service`` (a shared metric such as
    ``http_requests_total`` is under all three), ``kong``, ``mysqld-exporter``, ``mongodb-exporter``,
    ``redis-exporter``, ``kafka-exporter``, ``prometheus`` and ``unknown``; only keys with names appear.
    """
    grouped: dict[str, set[str]] = {}
    for _, expr in promql_expressions():
        for name in metric_names(expr):
            for origin in origins(name):
                grouped.setdefault(origin, set()).add(name)
    return grouped


def catalogue_from_doc(path: Path = OBSERVABILITY_DOC) -> dict[str, MetricSpec]:
    """The metric catalogue tables of docs/observability.md, parsed back into specs.

    A table row is ``| `name` | type | `label`, `label` | meaning |`` under a heading ``### <scope>``
    inside the section ``## Metric catalogue``; scope "Every service" means all three.
    """
    specs: dict[str, MetricSpec] = {}
    in_catalogue = False
    scope: frozenset[str] = frozenset()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            in_catalogue = line.strip() == "## Metric catalogue"
            continue
        if not in_catalogue:
            continue
        if line.startswith("### "):
            heading = line[4:].strip()
            scope = ALL if heading.lower().startswith("every service") else frozenset({heading.split()[0]})
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`"):
            continue
        name = cells[0].strip("`")
        labels = tuple(label.strip(" `") for label in cells[2].split(",") if label.strip(" `—-"))
        specs[name] = MetricSpec(name, cells[1], labels, scope)
    return specs
