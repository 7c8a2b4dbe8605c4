"""Loki and Promtail configuration (no Loki binary is packaged for Debian: parsed and checked here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
LOKI_YML = REPO / "infrastructure/docker/loki/loki-config.yml"
PROMTAIL_YML = REPO / "infrastructure/docker/promtail/promtail-config.yml"

# The keys chat_shared.logging writes on every line (CONVENTIONS: one JSON object per line).
LOG_FIELDS = {"service", "level", "request_id", "user_id", "route", "status", "duration_ms", "event", "timestamp"}


@pytest.fixture(scope="module")
def loki() -> dict[str, Any]:
    return yaml.safe_load(LOKI_YML.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def promtail() -> dict[str, Any]:
    return yaml.safe_load(PROMTAIL_YML.read_text(encoding="utf-8"))


def _stages(promtail: dict[str, Any]) -> list[dict[str, Any]]:
    [job] = promtail["scrape_configs"]
    return list(job["pipeline_stages"])


def _stage(promtail: dict[str, Any], kind: str) -> dict[str, Any]:
    [stage] = [s[kind] for s in _stages(promtail) if kind in s]
    return stage


# ------------------------------------------------------------------------------------ Loki
def test_loki_is_a_single_binary_on_the_filesystem(loki: dict[str, Any]) -> None:
    assert loki["auth_enabled"] is False
    assert loki["server"]["http_listen_port"] == 3100
    assert loki["common"]["replication_factor"] == 1
    assert loki["common"]["ring"]["kvstore"]["store"] == "inmemory"
    assert set(loki["common"]["storage"]) == {"filesystem"}
    [schema] = loki["schema_config"]["configs"]
    assert schema["store"] == "tsdb"
    assert schema["object_store"] == "filesystem"
    assert schema["schema"] == "v13"
    assert schema["index"]["period"] == "24h"  # compactor retention needs 24h index tables


def test_loki_keeps_logs_seven_days(loki: dict[str, Any]) -> None:
    assert loki["limits_config"]["retention_period"] == "168h"
    compactor = loki["compactor"]
    assert compactor["retention_enabled"] is True
    assert compactor["delete_request_store"] == "filesystem"  # required with retention in Loki 3


# ------------------------------------------------------------------------------------ Promtail
def test_promtail_pushes_to_loki(promtail: dict[str, Any]) -> None:
    [client] = promtail["clients"]
    assert client["url"] == "http://loki:3100/loki/api/v1/push"
    assert promtail["positions"]["filename"].startswith("/var/lib/promtail/")


def test_promtail_discovers_compose_containers_through_the_docker_socket(promtail: dict[str, Any]) -> None:
    [job] = promtail["scrape_configs"]
    [sd] = job["docker_sd_configs"]
    assert sd["host"] == "unix:///var/run/docker.sock"
    assert {"name": "label", "values": ["com.docker.compose.project"]} in sd["filters"]
    targets = {r.get("target_label") for r in job["relabel_configs"]}
    assert targets - {None} == {"service"}, "relabelling sets no label but service"


def test_json_stage_extracts_every_log_field(promtail: dict[str, Any]) -> None:
    expressions = _stage(promtail, "json")["expressions"]
    assert set(expressions) == LOG_FIELDS
    assert all(expressions[key] == key for key in LOG_FIELDS)


def test_only_service_and_level_become_labels(promtail: dict[str, Any]) -> None:
    assert set(_stage(promtail, "labels")) == {"service", "level"}
    kinds = [next(iter(s)) for s in _stages(promtail)]
    assert kinds.count("labels") == 1
    assert "labelallow" not in kinds
    assert "static_labels" not in kinds


def test_timestamp_comes_from_the_line(promtail: dict[str, Any]) -> None:
    stage = _stage(promtail, "timestamp")
    assert stage["source"] == "timestamp"
    assert stage["format"] == "RFC3339"
    kinds = [next(iter(s)) for s in _stages(promtail)]
    assert kinds.index("json") < kinds.index("timestamp")


def test_a_service_log_line_has_the_fields_the_pipeline_reads() -> None:
    """The shape of a line from chat_shared.logging (request access line), as the pipeline sees it."""
    line = json.dumps(
        {
            "event": "request",
            "method": "POST",
            "route": "/rooms/{room_id}/messages",
            "status": 201,
            "duration_ms": 12.5,
            "user_id": 7,
            "request_id": "0f8e5a3c-2b1d-4c5e-9f7a-6b3d2c1e0a9b",
            "service": "chat-service",
            "level": "info",
            "logger": "chat_shared.access",
            "timestamp": "2026-01-27T10:00:00.123456Z",
        }
    )
    parsed = json.loads(line)
    assert set(parsed) >= LOG_FIELDS
