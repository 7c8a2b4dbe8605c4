"""Monitoring on Kubernetes (k8s/components/monitoring) is the compose stack's, kept in step.

The PrometheusRules and dashboard ConfigMaps are generated from infrastructure/docker by
tools/monitoring/k8s_monitoring.py and must be current; the PodMonitor gives the services the job labels
the rules select on; CI's promtool is the one of the Prometheus image the stack runs. (Each custom resource
is checked against its CRD in test_tls.py, promtool runs over the rules in tests/config.)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "k8s/components/monitoring"
ALERTS = ROOT / "infrastructure/docker/prometheus/alerts"


def _render(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl not found: run scripts/install-validators.sh"
    rendered = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "k8s/overlays" / overlay)], capture_output=True, text=True, check=True
    ).stdout
    return [d for d in yaml.safe_load_all(rendered) if d]


def test_generated_files_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools/monitoring/k8s_monitoring.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_rules_are_the_compose_rules() -> None:
    docs = {d["metadata"]["name"]: d for d in yaml.safe_load_all((COMPONENT / "prometheus-rules.yaml").read_text())}
    for path in sorted(ALERTS.glob("*.yml")):
        rule = docs[f"bigtech-chat-{path.stem}"]
        assert rule["spec"]["groups"] == yaml.safe_load(path.read_text())["groups"]
        assert rule["metadata"]["labels"] == {"release": "kube-prometheus-stack"}


def test_dashboards_are_the_compose_dashboards() -> None:
    maps = list(yaml.safe_load_all((COMPONENT / "dashboards.yaml").read_text()))
    sources = sorted((ROOT / "infrastructure/docker/grafana/dashboards").glob("*.json"))
    assert len(maps) == len(sources)
    for config_map, source in zip(maps, sources, strict=True):
        assert config_map["metadata"]["labels"] == {"grafana_dashboard": "1"}
        assert json.loads(config_map["data"][source.name]) == json.loads(source.read_text())
        assert len(json.dumps(config_map)) < 1024 * 1024


def test_job_labels_match_the_rules() -> None:
    docs = _render("production")
    (monitor,) = [d for d in docs if d["kind"] == "PodMonitor"]
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    selected = monitor["spec"]["selector"]["matchLabels"]
    jobs = set()
    for d in docs:
        if d["kind"] == "Deployment":
            labels = d["spec"]["template"]["metadata"]["labels"]
            if selected.items() <= labels.items():
                jobs.add(labels["app.kubernetes.io/name"])
                ports = {p["name"] for c in d["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
                assert "http" in ports
    assert jobs == {"user-service", "friend-service", "chat-service", "notification-service"}
    # Every service job a rule names is one the PodMonitor produces.
    named = set(re.findall(r'job="([a-z-]+-service)"', "".join(p.read_text() for p in ALERTS.glob("*.yml"))))
    assert named <= jobs, named - jobs


def test_receivers_come_from_a_secret() -> None:
    (config,) = [d for d in _render("production") if d["kind"] == "AlertmanagerConfig"]
    for receiver in config["spec"]["receivers"]:
        for slack in receiver.get("slackConfigs", []):
            assert slack["apiURL"]["name"] == "alertmanager-receivers"
    compose_config = (ROOT / "infrastructure/docker/alertmanager/alertmanager.yml").read_text()
    assert ".invalid" not in compose_config and "url:" not in compose_config


def test_ci_promtool_is_the_prometheus_image() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.msa.yml").read_text())
    image = compose["services"]["prometheus"]["image"]
    ci = (ROOT / ".github/workflows/ci.yml").read_text()
    used = set(re.findall(r"--entrypoint \S+ (prom/prometheus:\S+)", ci))
    assert used == {image}, (used, image)
