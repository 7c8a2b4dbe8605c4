"""Generates the Grafana dashboards of BigTech Chat into ``dashboards/*.json``.

The JSON files are committed (Grafana's file provider reads them as they are); this script is their
source. Edit a panel here, then run::

    uv run python infrastructure/docker/grafana/generate_dashboards.py

``tests/config/test_config_grafana.py`` fails when a committed file differs from what this script writes, and
``tests/config/promql_metrics.py`` checks that every metric a panel queries is one the services or the
exporters really export (docs/observability.md has the catalogue).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Json = dict[str, Any]

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"
PROMETHEUS: Json = {"type": "prometheus", "uid": "prometheus"}
LOKI: Json = {"type": "loki", "uid": "loki"}
SCHEMA_VERSION = 39
RI = "$__rate_interval"


class Board:
    """Lays panels out left to right on Grafana's 24-column grid and numbers them."""

    def __init__(self) -> None:
        self.panels: list[Json] = []
        self._x = 0
        self._y = 0
        self._row_height = 0

    def _place(self, panel: Json, width: int, height: int) -> None:
        if self._x + width > 24:
            self._x, self._y = 0, self._y + self._row_height
            self._row_height = 0
        panel["id"] = len(self.panels) + 1
        panel["gridPos"] = {"h": height, "w": width, "x": self._x, "y": self._y}
        self.panels.append(panel)
        self._x += width
        self._row_height = max(self._row_height, height)

    def row(self, title: str) -> None:
        if self._x:
            self._x, self._y = 0, self._y + self._row_height
        self._row_height = 0
        self._place({"type": "row", "title": title, "collapsed": False, "panels": []}, 24, 1)
        self._x, self._y, self._row_height = 0, self._y + 1, 0

    def timeseries(
        self,
        title: str,
        targets: list[tuple[str, str]],
        *,
        unit: str = "short",
        description: str = "",
        width: int = 12,
        height: int = 8,
        stack: bool = False,
        threshold: float | None = None,
    ) -> None:
        custom: Json = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        }
        steps: list[Json] = [{"color": "green", "value": None}]
        if threshold is not None:
            steps.append({"color": "red", "value": threshold})
            custom["thresholdsStyle"] = {"mode": "dashed"}
        self._place(
            {
                "type": "timeseries",
                "title": title,
                "description": description,
                "datasource": PROMETHEUS,
                "fieldConfig": {
                    "defaults": {
                        "unit": unit,
                        "min": 0,
                        "custom": custom,
                        "thresholds": {"mode": "absolute", "steps": steps},
                    },
                    "overrides": [],
                },
                "options": {
                    "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "desc"},
                },
                "targets": _targets(targets),
            },
            width,
            height,
        )

    def stat(
        self,
        title: str,
        expr: str,
        *,
        unit: str = "short",
        description: str = "",
        width: int = 6,
        height: int = 4,
        red_above: float | None = None,
        up_down: bool = False,
        legend: str = "",
    ) -> None:
        steps: list[Json] = [{"color": "green", "value": None}]
        mappings: list[Json] = []
        if up_down:
            steps = [{"color": "red", "value": None}, {"color": "green", "value": 1}]
            mappings = [
                {
                    "type": "value",
                    "options": {
                        "0": {"text": "DOWN", "color": "red", "index": 0},
                        "1": {"text": "UP", "color": "green", "index": 1},
                    },
                }
            ]
        elif red_above is not None:
            steps.append({"color": "red", "value": red_above})
        self._place(
            {
                "type": "stat",
                "title": title,
                "description": description,
                "datasource": PROMETHEUS,
                "fieldConfig": {
                    "defaults": {
                        "unit": unit,
                        "mappings": mappings,
                        "thresholds": {"mode": "absolute", "steps": steps},
                    },
                    "overrides": [],
                },
                "options": {
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "value",
                    "graphMode": "none" if up_down else "area",
                    "justifyMode": "auto",
                    "orientation": "auto",
                    "textMode": "auto",
                },
                "targets": _targets([(expr, legend)]),
            },
            width,
            height,
        )

    def logs(self, title: str, expr: str, *, description: str = "", height: int = 10) -> None:
        self._place(
            {
                "type": "logs",
                "title": title,
                "description": description,
                "datasource": LOKI,
                "options": {
                    "showTime": True,
                    "showLabels": False,
                    "showCommonLabels": False,
                    "wrapLogMessage": True,
                    "prettifyLogMessage": False,
                    "enableLogDetails": True,
                    "dedupStrategy": "none",
                    "sortOrder": "Descending",
                },
                "targets": [{"datasource": LOKI, "expr": expr, "refId": "A", "queryType": "range"}],
            },
            24,
            height,
        )


def _targets(targets: list[tuple[str, str]]) -> list[Json]:
    return [
        {
            "datasource": PROMETHEUS,
            "expr": expr,
            "legendFormat": legend or "__auto",
            "range": True,
            "refId": chr(ord("A") + i),
        }
        for i, (expr, legend) in enumerate(targets)
    ]


def _constant(name: str, value: str) -> Json:
    return {
        "type": "constant",
        "name": name,
        "label": name,
        "hide": 2,
        "query": value,
        "current": {"selected": False, "text": value, "value": value},
        "options": [{"selected": True, "text": value, "value": value}],
        "skipUrlSync": False,
    }


def _query_variable(name: str, query: str) -> Json:
    return {
        "type": "query",
        "name": name,
        "label": name,
        "datasource": PROMETHEUS,
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery", "qryType": 1},
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "allValue": ".+",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "hide": 0,
        "skipUrlSync": False,
    }


def _dashboard(uid: str, title: str, description: str, board: Board, variables: list[Json]) -> Json:
    return {
        "id": None,
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["bigtech-chat"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": [
            {
                "type": "dashboards",
                "title": "BigTech Chat",
                "tags": ["bigtech-chat"],
                "asDropdown": True,
                "includeVars": False,
                "keepTime": True,
                "icon": "external link",
                "targetBlank": False,
                "tooltip": "",
                "url": "",
            }
        ],
        "templating": {"list": variables},
        "panels": board.panels,
    }


# --------------------------------------------------------------------------------------- shared rows
def http_rows(b: Board) -> None:
    """The HTTP, dependency and store panels every service dashboard starts with ($service is constant)."""
    sel = 'service="$service"'
    b.row("HTTP")
    b.stat("Replicas up", 'sum(up{job="$service"})', description="Scrape targets of this service that answer.")
    b.stat(
        "Requests / s",
        f"sum(rate(http_requests_total{{{sel}}}[{RI}]))",
        unit="reqps",
        description="All routes but /health, /ready and /metrics.",
    )
    b.stat(
        "5xx ratio",
        f'sum(rate(http_requests_total{{{sel}, status=~"5.."}}[{RI}])) / sum(rate(http_requests_total{{{sel}}}[{RI}]))',
        unit="percentunit",
        red_above=0.05,
        description="Share of responses with a 5xx status; HighErrorRate fires above 5 % for 5 minutes.",
    )
    b.stat(
        "In flight",
        f"sum(http_requests_in_progress{{{sel}}})",
        description="Requests being served now (open SSE streams included for chat-service).",
    )
    b.timeseries(
        "Requests by route",
        [(f"sum by (method, route) (rate(http_requests_total{{{sel}}}[{RI}]))", "{{method}} {{route}}")],
        unit="reqps",
    )
    b.timeseries(
        "Responses by status",
        [(f"sum by (status) (rate(http_requests_total{{{sel}}}[{RI}]))", "{{status}}")],
        unit="reqps",
        stack=True,
    )
    buckets = f'rate(http_request_duration_seconds_bucket{{{sel}, route!="/stream"}}[{RI}])'
    b.timeseries(
        "Latency (all routes but /stream)",
        [(f"histogram_quantile({q}, sum by (le) ({buckets}))", f"p{round(q * 100)}") for q in (0.5, 0.95, 0.99)],
        unit="s",
        threshold=0.5,
        description="An SSE request lasts as long as its stream, so /stream is left out.",
    )
    b.timeseries(
        "p95 latency by route",
        [
            (
                "histogram_quantile(0.95, sum by (route, le) "
                f'(rate(http_request_duration_seconds_bucket{{{sel}, route!="/stream"}}[{RI}])))',
                "{{route}}",
            )
        ],
        unit="s",
    )
    b.row("Dependencies")
    b.timeseries(
        "Dependency up (as /ready sees it)",
        [(f"min by (dependency) (service_dependency_up{{{sel}}})", "{{dependency}}")],
        description="1 = reachable at the last readiness check. Kafka down only degrades (outbox keeps writes).",
    )
    b.timeseries(
        "Store call p95 by store and operation",
        [
            (
                "histogram_quantile(0.95, sum by (store, operation, le) "
                f"(rate(store_call_duration_seconds_bucket{{{sel}}}[{RI}])))",
                "{{store}} {{operation}}",
            )
        ],
        unit="s",
    )


def error_logs(b: Board) -> None:
    b.row("Logs")
    b.logs(
        "Warnings and errors",
        '{service="$service", level=~"warning|error|critical"} | json',
        description="Click a line for its fields; request_id links to every line of that request.",
    )


# --------------------------------------------------------------------------------------- dashboards
def user_dashboard() -> Json:
    b = Board()
    http_rows(b)
    b.row("Accounts")
    b.stat("Online users", "max(user_online_users)", description="Users with a presence heartbeat in 60 s.")
    b.stat("Registrations (1h)", "sum(increase(user_registrations_total[1h]))")
    b.stat(
        "Failed logins (share, 15m)",
        'sum(increase(user_logins_total{result!="success"}[15m])) / sum(increase(user_logins_total[15m]))',
        unit="percentunit",
        red_above=0.5,
    )
    b.stat("Refresh-token reuse (1h)", 'sum(increase(user_token_refreshes_total{result="reused"}[1h]))', red_above=1)
    b.timeseries(
        "Logins by result",
        [(f"sum by (result) (rate(user_logins_total[{RI}])) * 60", "{{result}}")],
        unit="short",
        description="Per minute. throttled = refused with 429 before the password was checked.",
    )
    b.timeseries(
        "Login throttling by scope",
        [(f"sum by (scope) (rate(user_login_throttled_total[{RI}])) * 60", "{{scope}}")],
        description="Per minute; scope account = one account attacked, address = one client address.",
    )
    b.timeseries(
        "Refused: hashing saturated / min",
        [(f"sum(rate(user_auth_overload_refused_total[{RI}])) * 60", "503 refused")],
        description="Logins/registrations answered 503 at once because the Argon2 pool was full: add replicas.",
    )
    b.timeseries(
        "Avatar uploads / min",
        [
            (f"sum(rate(user_avatar_uploads_signed_total[{RI}])) * 60", "signed"),
            (f"sum(rate(user_avatar_uploads_verified_total[{RI}])) * 60", "set"),
            (f"sum by (reason) (rate(user_avatar_uploads_refused_total[{RI}])) * 60", "refused: {{reason}}"),
        ],
        description="Presigned uploads handed out, uploads made an avatar, and refusals by reason.",
    )
    b.timeseries(
        "Registrations / min",
        [(f"sum(rate(user_registrations_total[{RI}])) * 60", "registrations")],
    )
    b.timeseries(
        "Token refreshes by result",
        [(f"sum by (result) (rate(user_token_refreshes_total[{RI}])) * 60", "{{result}}")],
        description="Per minute. reused = a rotated refresh token came back: its family was revoked.",
    )
    b.timeseries("Online users", [("max(user_online_users)", "online")])
    error_logs(b)
    return _dashboard(
        "bigtech-user",
        "BigTech Chat / User Service",
        "Accounts, logins, tokens and presence (user-service :8005).",
        b,
        [_constant("service", "user-service")],
    )


def friend_dashboard() -> Json:
    b = Board()
    http_rows(b)
    b.row("Friends")
    b.stat("Requests sent (1h)", 'sum(increase(friend_requests_total{action="sent"}[1h]))')
    b.stat(
        "Acceptance rate (24h)",
        'sum(increase(friend_requests_total{action=~"accepted|auto_accepted"}[24h]))'
        ' / sum(increase(friend_requests_total{action=~"accepted|auto_accepted|rejected|cancelled"}[24h]))',
        unit="percentunit",
        description="Of the requests that reached an outcome in 24 h, the share accepted.",
    )
    b.stat("Friendships removed (1h)", "sum(increase(friend_friendships_removed_total[1h]))")
    b.stat(
        "User lookup fallback misses (1h)",
        'sum(increase(friend_user_lookup_fallback_total{result=~"miss|error|circuit_open"}[1h]))',
        red_above=1,
        description="Replica misses that the REST fallback to user-service could not answer.",
    )
    b.timeseries(
        "Friend requests by action",
        [(f"sum by (action) (rate(friend_requests_total[{RI}])) * 60", "{{action}}")],
        description="Per minute.",
    )
    b.timeseries(
        "Blocks by action",
        [(f"sum by (action) (rate(friend_blocks_total[{RI}])) * 60", "{{action}}")],
        description="Per minute.",
    )
    b.timeseries(
        "Friendships removed / min",
        [(f"sum(rate(friend_friendships_removed_total[{RI}])) * 60", "removed")],
    )
    b.timeseries(
        "User lookup fallback by result",
        [(f"sum by (result) (rate(friend_user_lookup_fallback_total[{RI}])) * 60", "{{result}}")],
        description="Per minute: calls to user-service when the local users replica lacks a user.",
    )
    error_logs(b)
    return _dashboard(
        "bigtech-friend",
        "BigTech Chat / Friend Service",
        "Friend requests, friendships and blocks (friend-service :8003).",
        b,
        [_constant("service", "friend-service")],
    )


def notification_dashboard() -> Json:
    b = Board()
    b.row("Pushes")
    b.stat("Pushes sent (1h)", 'sum(increase(notification_pushes_total{result="sent"}[1h]))')
    b.stat(
        "Push failure ratio (10m)",
        'sum(rate(notification_pushes_total{result=~"retry|failed"}[10m])) / sum(rate(notification_pushes_total[10m]))',
        unit="percentunit",
        red_above=0.2,
        description="Requests answered with 429, 5xx, a timeout or a refusal, of all push requests.",
    )
    b.stat(
        "Push delay p99 (5m)",
        "histogram_quantile(0.99, sum by (le) (rate(notification_push_delay_seconds_bucket[5m])))",
        unit="s",
        red_above=1,
        description="From the send to the push service accepting the first push (collapsed pushes wait for "
        "their window and are counted too).",
    )
    b.stat(
        "Push decisions behind",
        'sum(kafka_consumer_lag{group="notification-service.pushes"})',
        red_above=500,
        description="MessageSent events not yet decided on.",
    )
    b.timeseries(
        "Push requests by channel and result",
        [(f"sum by (channel, result) (rate(notification_pushes_total[{RI}])) * 60", "{{channel}} {{result}}")],
        description="Per minute. gone: the push service said the subscription no longer exists (deleted).",
    )
    b.timeseries(
        "Push requests by push service",
        [(f"sum by (host) (rate(notification_pushes_total[{RI}])) * 60", "{{host}}")],
        description="Per minute.",
    )
    b.timeseries(
        "Push delay",
        [
            (f"histogram_quantile(0.5, sum by (le) (rate(notification_push_delay_seconds_bucket[{RI}])))", "p50"),
            (f"histogram_quantile(0.99, sum by (le) (rate(notification_push_delay_seconds_bucket[{RI}])))", "p99"),
        ],
        unit="s",
        threshold=1,
    )
    b.timeseries(
        "Push request duration p95 by channel",
        [
            (
                "histogram_quantile(0.95, sum by (channel, le) "
                f"(rate(notification_push_duration_seconds_bucket[{RI}])))",
                "{{channel}}",
            )
        ],
        unit="s",
    )
    b.timeseries(
        "Decisions by result",
        [(f"sum by (result) (rate(notification_decisions_total[{RI}])) * 60", "{{result}}")],
        description="Per minute, per member of a room on each message: queued, collapsed into a waiting push, "
        "or why not (online, muted, not_mentioned, notify_none, blocked, no_subscription).",
    )
    b.timeseries(
        "Subscriptions by type and action",
        [(f"sum by (type, action) (rate(notification_subscriptions_total[{RI}])) * 60", "{{type}} {{action}}")],
        description="Per minute. gone: deleted because the push service answered 404/410.",
    )
    b.row("Mail")
    b.timeseries(
        "Mails by kind and result",
        [(f"sum by (kind, result) (rate(notification_mails_total[{RI}])) * 60", "{{kind}} {{result}}")],
        description="Per minute.",
        width=24,
    )
    http_rows(b)
    error_logs(b)
    return _dashboard(
        "bigtech-notification",
        "BigTech Chat / Notification Service",
        "Web Push, FCM and e-mail (notification-service :8004).",
        b,
        [_constant("service", "notification-service")],
    )


def chat_dashboard() -> Json:
    b = Board()
    b.row("Messages and live stream")
    b.stat("Open streams", "sum(chat_sse_streams_open)", description="SSE connections across all replicas.")
    b.stat("Messages / s", f"sum(rate(chat_messages_sent_total[{RI}]))", unit="ops")
    b.stat(
        "Delivery p99",
        f"histogram_quantile(0.99, sum by (le) (rate(chat_message_delivery_latency_seconds_bucket[{RI}])))",
        unit="s",
        red_above=1,
    )
    b.stat("Stream resets (1h)", "sum(increase(chat_sse_resets_total[1h]))", red_above=1)
    b.timeseries(
        "Messages sent by type",
        [(f"sum by (message_type) (rate(chat_messages_sent_total[{RI}]))", "{{message_type}}")],
        unit="ops",
    )
    b.timeseries(
        "Delivery latency (send committed -> written to a stream)",
        [
            (
                f"histogram_quantile({q}, sum by (le) (rate(chat_message_delivery_latency_seconds_bucket[{RI}])))",
                f"p{round(q * 100)}",
            )
            for q in (0.5, 0.99)
        ],
        unit="s",
    )
    b.timeseries(
        "Open streams by replica",
        [("sum by (instance) (chat_sse_streams_open)", "{{instance}}")],
        stack=True,
    )
    b.timeseries(
        "Streams opened and closed",
        [
            (f"sum(rate(chat_sse_streams_opened_total[{RI}])) * 60", "opened"),
            (f"sum by (reason) (rate(chat_sse_streams_closed_total[{RI}])) * 60", "closed: {{reason}}"),
        ],
        description="Per minute. closed: error is what SSEStreamErrors watches.",
    )
    b.timeseries(
        "Events delivered by type",
        [(f"sum by (event) (rate(chat_sse_events_delivered_total[{RI}]))", "{{event}}")],
        unit="ops",
    )
    b.timeseries(
        "Replay and resets",
        [
            (f"sum(rate(chat_sse_replayed_events_total[{RI}]))", "replayed events / s"),
            (f"sum(rate(chat_sse_resets_total[{RI}]))", "resets / s"),
        ],
        description="Events replayed after a reconnect with Last-Event-ID; reset = the id was too old.",
    )
    b.timeseries(
        "Rooms created by type",
        [(f"sum by (type) (rate(chat_rooms_created_total[{RI}])) * 60", "{{type}}")],
        description="Per minute.",
    )
    b.timeseries(
        "Permission refusals confirmed with friend-service",
        [(f"sum by (result) (rate(chat_permission_confirms_total[{RI}])) * 60", "{{result}}")],
        description="Per minute. granted: the replica had not heard of the friendship (or the lifted block) "
        "yet; error and circuit_open: friend-service could not answer and the replica's refusal stood.",
    )
    b.row("Typing and presence (ephemeral events)")
    b.timeseries(
        "Ephemeral events published",
        [(f"sum by (event) (rate(chat_ephemeral_events_published_total[{RI}]))", "{{event}}")],
        unit="ops",
        description="typing: calls outside the 2 s debounce; presence.updated: online/offline changes announced "
        "to friends. One message on chat:ephemeral reaches every process.",
    )
    b.timeseries(
        "Ephemeral events written to streams",
        [
            (f"sum by (event) (rate(chat_ephemeral_events_delivered_total[{RI}]))", "{{event}}"),
            (f"sum(rate(chat_presence_stale_total[{RI}]))", "presence skipped (stale)"),
        ],
        unit="ops",
        description="Frames without an id, never stored nor replayed. Stale: a change read more than "
        "PRESENCE_MAX_AGE_S after it happened (the presence consumer was catching up).",
    )
    b.row("Search")
    b.timeseries(
        "Search latency",
        [
            (
                f"histogram_quantile(0.95, sum by (le, scope) (rate(chat_search_latency_seconds_bucket[{RI}])))",
                "p95 {{scope}}",
            ),
            (
                f"histogram_quantile(0.5, sum by (le, scope) (rate(chat_search_latency_seconds_bucket[{RI}])))",
                "p50 {{scope}}",
            ),
        ],
        unit="s",
        description="Message search, request to page; scope room: one room, all: every room of the caller.",
    )
    b.row("Attachments")
    b.timeseries(
        "Attachments / min",
        [
            (f"sum by (kind) (rate(chat_attachment_uploads_signed_total[{RI}])) * 60", "signed: {{kind}}"),
            (f"sum by (kind) (rate(chat_attachment_uploads_verified_total[{RI}])) * 60", "sent: {{kind}}"),
            (f"sum by (reason) (rate(chat_attachment_uploads_refused_total[{RI}])) * 60", "refused: {{reason}}"),
            (f"sum by (reason) (rate(chat_attachments_swept_total[{RI}])) * 60", "swept: {{reason}}"),
        ],
        description="Presigned uploads, uploads verified by a send, refusals by reason, objects swept.",
    )
    b.timeseries(
        "Thumbnails",
        [
            (
                f"histogram_quantile(0.95, sum by (le) (rate(chat_thumbnail_latency_seconds_bucket[{RI}])))",
                "p95 send → thumbnail",
            ),
            (f"sum by (result) (rate(chat_thumbnails_total[{RI}])) * 60", "{{result}} / min"),
        ],
        description="The contract asks for a thumbnail within 10 s of the send; refused = Pillow could not decode.",
    )
    http_rows(b)
    error_logs(b)
    return _dashboard(
        "bigtech-chat",
        "BigTech Chat / Chat Service",
        "Rooms, messages and the SSE live stream (chat-service :8002).",
        b,
        [_constant("service", "chat-service")],
    )


def kafka_outbox_dashboard() -> Json:
    b = Board()
    sel = 'service=~"$service"'
    b.row("Outbox")
    b.timeseries(
        "Outbox: pending events",
        [(f"max by (service) (outbox_pending_events{{{sel}}})", "{{service}}")],
        description="Rows written with a state change and not yet published.",
    )
    b.timeseries(
        "Outbox: oldest pending age",
        [(f"max by (service) (outbox_oldest_pending_age_seconds{{{sel}}})", "{{service}}")],
        unit="s",
        threshold=60,
        description="OutboxStuck fires above 60 s for 5 minutes.",
    )
    b.timeseries(
        "Published by topic and result",
        [
            (
                f"sum by (service, topic, result) (rate(events_published_total{{{sel}}}[{RI}]))",
                "{{service}} {{topic}} {{result}}",
            )
        ],
        unit="ops",
    )
    b.row("Consumers")
    b.timeseries(
        "Consumed by topic and result",
        [
            (
                f"sum by (service, topic, result) (rate(events_consumed_total{{{sel}}}[{RI}]))",
                "{{service}} {{topic}} {{result}}",
            )
        ],
        unit="ops",
        description="handled, duplicate (already processed event_id), retried, dlq.",
    )
    b.timeseries(
        "Consumed by event type",
        [
            (
                f"sum by (service, event_type) (rate(events_consumed_total{{{sel}}}[{RI}]))",
                "{{service}} {{event_type}}",
            )
        ],
        unit="ops",
    )
    b.timeseries(
        "Consumer lag (reported by the consumers)",
        [(f"sum by (group, topic) (kafka_consumer_lag{{{sel}}})", "{{group}} {{topic}}")],
        threshold=1000,
    )
    b.timeseries(
        "Consumer lag (kafka-exporter, broker side)",
        [("sum by (consumergroup, topic) (kafka_consumergroup_lag)", "{{consumergroup}} {{topic}}")],
        threshold=1000,
        description="Still there when every consumer of a group is down.",
    )
    b.row("Dead letters and topics")
    b.timeseries(
        "Events sent to DLQ (per hour)",
        [(f"sum by (service, topic) (increase(events_dlq_total{{{sel}}}[1h]))", "{{service}} {{topic}}")],
    )
    b.timeseries(
        "Messages produced by topic",
        [
            (
                f'sum by (topic) (rate(kafka_topic_partition_current_offset{{topic!~"__.*"}}[{RI}]))',
                "{{topic}}",
            )
        ],
        unit="ops",
        description="From kafka-exporter: growth of the partitions' end offsets.",
    )
    return _dashboard(
        "bigtech-kafka-outbox",
        "BigTech Chat / Events: Kafka and outbox",
        "Transactional outbox, publishing, consumers, lag and dead letters of every service.",
        b,
        [_query_variable("service", "label_values(outbox_pending_events, service)")],
    )


def infrastructure_dashboard() -> Json:
    b = Board()
    b.row("Scrape targets")
    b.timeseries("Targets up by job", [("sum by (job) (up)", "{{job}}")], width=24, height=6)
    b.row("MySQL (mysqld-exporter)")
    b.stat("MySQL", "min(mysql_up)", up_down=True)
    b.stat(
        "Connections used",
        "max(mysql_global_status_threads_connected) / max(mysql_global_variables_max_connections)",
        unit="percentunit",
        red_above=0.8,
    )
    b.stat("Slow queries (1h)", "sum(increase(mysql_global_status_slow_queries[1h]))", red_above=1)
    b.stat("Queries / s", f"sum(rate(mysql_global_status_queries[{RI}]))", unit="ops")
    b.timeseries("MySQL threads connected", [("sum(mysql_global_status_threads_connected)", "connected")])
    b.timeseries(
        "MySQL queries and slow queries",
        [
            (f"sum(rate(mysql_global_status_queries[{RI}]))", "queries / s"),
            (f"sum(rate(mysql_global_status_slow_queries[{RI}]))", "slow / s"),
        ],
        unit="ops",
    )
    b.row("MongoDB (mongodb-exporter)")
    b.stat("MongoDB", "min(mongodb_up)", up_down=True)
    b.stat("Connections", 'sum(mongodb_ss_connections{conn_type="current"})')
    b.stat("Resident memory", "max(mongodb_ss_mem_resident) * 1024 * 1024", unit="bytes")
    b.stat("Operations / s", f"sum(rate(mongodb_ss_opcounters[{RI}]))", unit="ops")
    b.timeseries(
        "MongoDB operations by type",
        [(f"sum by (legacy_op_type) (rate(mongodb_ss_opcounters[{RI}]))", "{{legacy_op_type}}")],
        unit="ops",
        width=24,
    )
    b.row("Redis (redis-exporter)")
    b.stat("Redis", "min(redis_up)", up_down=True)
    b.stat("Clients", "sum(redis_connected_clients)")
    b.stat("Memory used", "max(redis_memory_used_bytes)", unit="bytes")
    b.stat(
        "Keyspace hit ratio",
        f"sum(rate(redis_keyspace_hits_total[{RI}]))"
        f" / (sum(rate(redis_keyspace_hits_total[{RI}])) + sum(rate(redis_keyspace_misses_total[{RI}])))",
        unit="percentunit",
    )
    b.timeseries("Redis commands / s", [(f"sum(rate(redis_commands_processed_total[{RI}]))", "commands")], unit="ops")
    b.timeseries("Redis memory", [("max(redis_memory_used_bytes)", "used")], unit="bytes")
    b.row("Kafka (kafka-exporter)")
    b.stat("Brokers", "max(kafka_brokers)")
    b.stat(
        "Under-replicated partitions",
        "sum(kafka_topic_partition_under_replicated_partition)",
        red_above=1,
    )
    b.stat("Group lag (total)", "sum(kafka_consumergroup_lag)", red_above=1000)
    b.stat(
        "Messages in / s",
        f'sum(rate(kafka_topic_partition_current_offset{{topic!~"__.*"}}[{RI}]))',
        unit="ops",
    )
    b.row("Gateway (Kong)")
    b.timeseries(
        "Kong requests by service and status",
        [(f"sum by (service, code) (rate(kong_http_requests_total[{RI}]))", "{{service}} {{code}}")],
        unit="reqps",
    )
    b.timeseries(
        "Kong: rejected by the gateway itself",
        [
            (
                f'sum by (code) (rate(kong_http_requests_total{{source="kong"}}[{RI}]))',
                "{{code}}",
            )
        ],
        unit="reqps",
        description="429 rate limit, 413 body too large, 404 no route: answered by Kong, not a service.",
    )
    b.timeseries(
        "Kong p95 latency by service",
        [
            (
                f"histogram_quantile(0.95, sum by (service, le) (rate(kong_request_latency_ms_bucket[{RI}])))",
                "total {{service}}",
            ),
            (
                f"histogram_quantile(0.95, sum by (service, le) (rate(kong_upstream_latency_ms_bucket[{RI}])))",
                "upstream {{service}}",
            ),
            (
                f"histogram_quantile(0.95, sum by (le) (rate(kong_kong_latency_ms_bucket[{RI}])))",
                "kong (plugins)",
            ),
        ],
        unit="ms",
        description="chat-service-stream is a stream's whole lifetime; read it apart.",
    )
    b.timeseries(
        "Kong bandwidth",
        [(f"sum by (direction) (rate(kong_bandwidth_bytes[{RI}]))", "{{direction}}")],
        unit="Bps",
    )
    b.timeseries(
        "Kong connections",
        [('sum by (state) (kong_nginx_connections_total{state=~"active|reading|writing|waiting"})', "{{state}}")],
        width=24,
    )
    return _dashboard(
        "bigtech-infrastructure",
        "BigTech Chat / Infrastructure",
        "MySQL, MongoDB, Redis, Kafka and the Kong gateway, from their exporters.",
        b,
        [],
    )


DASHBOARDS = {
    "user.json": user_dashboard,
    "friend.json": friend_dashboard,
    "chat.json": chat_dashboard,
    "notification.json": notification_dashboard,
    "kafka-outbox.json": kafka_outbox_dashboard,
    "infrastructure.json": infrastructure_dashboard,
}


def render() -> dict[str, str]:
    """File name -> the exact JSON text of each dashboard."""
    return {name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n" for name, build in DASHBOARDS.items()}


def main() -> None:
    DASHBOARD_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (DASHBOARD_DIR / name).write_text(text, encoding="utf-8")
        print(f"wrote {DASHBOARD_DIR / name}")


if __name__ == "__main__":
    main()
