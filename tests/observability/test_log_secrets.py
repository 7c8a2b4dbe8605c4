"""The logs of the whole system after the journey: no secret in any line, and every service line is JSON.

run.py (``--raw-logs``) prints each line of each process prefixed with its source name and `` | ``; the
session's log file therefore holds the gateway's, the broker's and every service's output, start-up,
consumers and background tasks included. CONVENTIONS: one JSON object per line with ``service``,
``level``, ``request_id``; no tokens, passwords or message bodies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from devstack import DevStack
from obs_support import Journey

SERVICES = ("user-service", "friend-service", "chat-service")
LEVELS = {"debug", "info", "warning", "error", "critical"}
PREFIX = re.compile(r"^(?P<source>[\w-]+)\s*\| (?P<text>.*)$")
ROUTE_TEMPLATE = re.compile(r"^(/[\w.{}-]*)+$|^unmatched$")


@dataclass(frozen=True)
class Line:
    source: str
    text: str


def lines_of(stack: DevStack) -> list[Line]:
    found = []
    for raw in stack.log_text().splitlines():
        match = PREFIX.match(raw)
        if match:
            found.append(Line(match["source"], match["text"]))
    return found


@pytest.fixture(scope="module")
def log_lines(stack: DevStack, journey: Journey) -> list[Line]:
    lines = lines_of(stack)
    assert any(line.source == "chat-service" and journey.request_id in line.text for line in lines), (
        "the journey's message send is not in the log yet"
    )
    return lines


@pytest.fixture(scope="module")
def records(log_lines: list[Line]) -> list[tuple[str, dict[str, Any]]]:
    """(source, parsed JSON) of every service line."""
    parsed = []
    for line in log_lines:
        if line.source in SERVICES:
            try:
                record = json.loads(line.text)
            except ValueError:
                pytest.fail(f"{line.source} printed a line that is not JSON: {line.text[:300]}")
            assert isinstance(record, dict), line.text[:300]
            parsed.append((line.source, record))
    return parsed


def test_no_secret_reaches_any_log_line(stack: DevStack, journey: Journey, log_lines: list[Line]) -> None:
    text = stack.log_text()
    assert len(log_lines) > 50, "the log is suspiciously short"
    leaked = {
        name: next(line.source for line in log_lines if secret in line.text)
        for name, secret in journey.secrets.items()
        if secret in text
    }
    assert not leaked, f"secrets in the logs (secret -> first source): {leaked}"
    # Partial leaks too: a token's signature (its last JWT segment) or a ticket cut short.
    for secret in journey.tokens + journey.tickets:
        tail = secret.rsplit(".", 1)[-1][-24:]
        assert tail not in text, "the end of a token or ticket is in the logs"


def test_every_service_line_is_json_with_service_and_level(records: list[tuple[str, dict[str, Any]]]) -> None:
    assert {source for source, _ in records} == set(SERVICES)
    for source, record in records:
        assert record.get("service") == source, record
        assert record.get("level") in LEVELS, record
        assert isinstance(record.get("event"), str) and record["event"], record
        assert isinstance(record.get("timestamp"), str), record


def test_access_lines_carry_request_route_status_and_duration(records: list[tuple[str, dict[str, Any]]]) -> None:
    access = [(source, r) for source, r in records if r.get("event") == "request"]
    assert {source for source, _ in access} == set(SERVICES), "every service logs its requests"
    for source, record in access:
        assert isinstance(record.get("request_id"), str) and record["request_id"], (source, record)
        assert isinstance(record.get("route"), str) and ROUTE_TEMPLATE.match(record["route"]), (source, record)
        assert isinstance(record.get("status"), int), (source, record)
        assert isinstance(record.get("duration_ms"), int | float), (source, record)
        assert record.get("method") in {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"}, record
        assert not {"/health", "/ready", "/metrics"} & {record["route"]}, "probes and scrapes are not logged"


def test_one_request_id_from_gateway_to_service(
    journey: Journey, log_lines: list[Line], records: list[tuple[str, dict[str, Any]]]
) -> None:
    """The ``X-Request-ID`` the client sent is on the gateway's line and on chat-service's access line,
    which also names the authenticated user: one Loki query follows the request."""
    gateway = [line for line in log_lines if line.source == "gateway" and journey.request_id in line.text]
    assert gateway, "the gateway's access line of the message send"
    chat = [r for source, r in records if source == "chat-service" and r.get("request_id") == journey.request_id]
    assert any(
        r.get("event") == "request" and r.get("route") == "/rooms/{room_id}/messages" and r.get("status") == 201
        for r in chat
    ), chat
    assert all(r.get("user_id") is not None for r in chat if r.get("event") == "request"), (
        "an authenticated request's line names the user"
    )


def test_a_healthy_journey_logs_no_error(records: list[tuple[str, dict[str, Any]]]) -> None:
    """Business refusals (401, 403, 404 while a replica catches up) are not errors (CONVENTIONS)."""
    errors = [(source, r) for source, r in records if r.get("level") in {"error", "critical"}]
    assert not errors, errors[:5]
