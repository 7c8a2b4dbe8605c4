"""Alertmanager: amtool's own check, and a route for every severity the rules use.

amtool comes with the Debian package prometheus-alertmanager (scripts/install-validators.sh); without it
the tests fail with that hint rather than skip, so a broken file cannot pass unchecked."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ALERTMANAGER_YML = REPO / "infrastructure/docker/alertmanager/alertmanager.yml"
RULE_FILES = sorted((REPO / "infrastructure/docker/prometheus/alerts").glob("*.yml"))


def amtool() -> str:
    found = shutil.which("amtool")
    if found is None:
        pytest.fail("no amtool: install the Debian package prometheus-alertmanager (scripts/install-validators.sh)")
    return found


def test_amtool_check_config() -> None:
    result = subprocess.run(
        [amtool(), "check-config", str(ALERTMANAGER_YML)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=ServiceDown", "service=user-service"], "oncall"),
        (["severity=warning", "alertname=HighLatency", "service=chat-service"], "team"),
        (["severity=info", "alertname=Whatever"], "blackhole"),
    ],
)
def test_amtool_routes(labels: list[str], receiver: str) -> None:
    result = subprocess.run(
        [amtool(), "config", "routes", "test", f"--config.file={ALERTMANAGER_YML}", *labels],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_every_severity_used_by_a_rule_has_a_route() -> None:
    config = yaml.safe_load(ALERTMANAGER_YML.read_text(encoding="utf-8"))
    receivers = {r["name"] for r in config["receivers"]}
    routed = {}
    for sub in config["route"]["routes"]:
        assert sub["receiver"] in receivers
        for matcher in sub["matchers"]:
            name, _, value = matcher.partition("=")
            if name == "severity":
                routed[value.strip('"')] = sub["receiver"]
    severities = set()
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            severities |= {r["labels"]["severity"] for r in group["rules"] if "alert" in r}
    assert severities <= set(routed), severities - set(routed)
    assert config["route"]["receiver"] in receivers
