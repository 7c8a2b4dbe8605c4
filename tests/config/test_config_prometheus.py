"""Prometheus configuration and alert rules, checked by promtool, plus what promtool cannot see:
every alert has a severity, its annotations and a runbook that exists, and unit tests that show it
both firing and staying quiet."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "infrastructure/docker/prometheus"
PROMETHEUS_YML = PROMETHEUS_DIR / "prometheus.yml"
RULE_FILES = sorted((PROMETHEUS_DIR / "alerts").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
OBSERVABILITY_DOC = REPO / "docs/observability.md"

REQUIRED_ALERTS = {
    "ServiceDown",
    "HighErrorRate",
    "HighLatency",
    "OutboxStuck",
    "ConsumerLagHigh",
    "DLQNotEmpty",
    "SSEStreamsDropped",
}
SEVERITIES = {"critical", "warning", "info"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is not installed: apt-get install -y prometheus (scripts/install-validators.sh)")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, check=False)


def _alerts() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            rules += [r for r in group["rules"] if "alert" in r]
    return rules


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for line in markdown.splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            text = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


# ------------------------------------------------------------------------------------ promtool
def test_files_exist() -> None:
    assert PROMETHEUS_YML.is_file()
    assert RULE_FILES
    assert TEST_FILES


def test_promtool_check_config() -> None:
    # rule_files globs resolve relative to prometheus.yml, so this also loads and checks alerts/*.yml
    result = promtool("check", "config", str(PROMETHEUS_YML))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(RULE_FILES)} rule files found" in result.stdout + result.stderr


@pytest.mark.parametrize("rules", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules(rules: Path) -> None:
    result = promtool("check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("tests", TEST_FILES, ids=lambda p: p.name)
def test_promtool_test_rules(tests: Path) -> None:
    result = promtool("test", "rules", str(tests))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules_catches_a_wrong_expectation(tmp_path: Path) -> None:
    """The unit tests really compare: flipping one expected label makes promtool fail."""
    source = PROMETHEUS_DIR / "tests/services_test.yml"
    broken = tmp_path / "services_test.yml"
    text = source.read_text(encoding="utf-8").replace("../alerts/", str(PROMETHEUS_DIR / "alerts") + "/")
    broken.write_text(text.replace("severity: critical", "severity: info", 1), encoding="utf-8")
    assert promtool("test", "rules", str(broken)).returncode != 0


# ------------------------------------------------------------------------------------ scrape config
def test_scrape_config_covers_every_source() -> None:
    config = yaml.safe_load(PROMETHEUS_YML.read_text(encoding="utf-8"))
    assert config["global"]["scrape_interval"] == "15s"
    assert config["rule_files"] == ["alerts/*.yml"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for service, port in {
        "user-service": 8005,
        "friend-service": 8003,
        "chat-service": 8002,
        "notification-service": 8004,
    }.items():
        job = jobs[service]
        assert job["metrics_path"] == "/metrics"
        [sd] = job["dns_sd_configs"]
        assert sd == {"names": [service], "type": "A", "port": port, "refresh_interval": "30s"}
        assert job["honor_labels"] is True
        assert {"target_label": "service", "replacement": service} in job["relabel_configs"]
    static = {name: job["static_configs"][0]["targets"] for name, job in jobs.items() if "static_configs" in job}
    assert static["kong"] == ["kong:8100"]
    assert static["mysqld-exporter"] == ["mysqld-exporter:9104"]
    assert static["mongodb-exporter"] == ["mongodb-exporter:9216"]
    assert static["redis-exporter"] == ["redis-exporter:9121"]
    assert static["kafka-exporter"] == ["kafka-exporter:9308"]


# ------------------------------------------------------------------------------------ alert rules
def test_required_alerts_exist_once() -> None:
    names = [a["alert"] for a in _alerts()]
    assert len(names) == len(set(names))
    assert set(names) >= REQUIRED_ALERTS


@pytest.mark.parametrize("alert", _alerts(), ids=lambda a: a["alert"])
def test_alert_has_severity_annotations_and_a_runbook(alert: dict[str, Any]) -> None:
    assert alert["labels"]["severity"] in SEVERITIES
    annotations = alert["annotations"]
    assert annotations["summary"]
    assert annotations["description"]
    runbook = annotations["runbook_url"]
    path, _, anchor = runbook.partition("#")
    assert path == "docs/observability.md"
    assert anchor == alert["alert"].lower()
    assert anchor in _anchors(OBSERVABILITY_DOC.read_text(encoding="utf-8")), f"no heading for #{anchor}"


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    tested_files: set[str] = set()
    for path in TEST_FILES:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        tested_files |= {(path.parent / f).resolve().name for f in document["rule_files"]}
        for test in document["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {a["alert"] for a in _alerts()}
    assert names <= firing, f"never shown firing: {sorted(names - firing)}"
    assert names <= quiet, f"never shown quiet: {sorted(names - quiet)}"
    assert {p.name for p in RULE_FILES} <= tested_files
