"""Grafana provisioning and dashboards: valid JSON of the expected shape, datasource uids that exist,
and committed files equal to what generate_dashboards.py writes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "infrastructure/docker/grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
EXPECTED = {"user.json", "friend.json", "chat.json", "notification.json", "kafka-outbox.json", "infrastructure.json"}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_dashboards", GRAFANA / "generate_dashboards.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _datasources() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load((GRAFANA / "provisioning/datasources/datasources.yml").read_text(encoding="utf-8"))
    return {d["uid"]: d for d in document["datasources"]}


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for panel in panels:
        found.append(panel)
        found += _panels(panel.get("panels", []))
    return found


def test_datasources() -> None:
    sources = _datasources()
    assert sources["prometheus"]["type"] == "prometheus"
    assert sources["prometheus"]["url"] == "http://prometheus:9090"
    assert sources["prometheus"]["isDefault"] is True
    assert sources["loki"]["type"] == "loki"
    assert sources["loki"]["url"] == "http://loki:3100"
    assert sum(1 for s in sources.values() if s.get("isDefault")) == 1


def test_dashboard_provider_reads_the_dashboard_folder() -> None:
    document = yaml.safe_load((GRAFANA / "provisioning/dashboards/dashboards.yml").read_text(encoding="utf-8"))
    [provider] = document["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_all_dashboards_present() -> None:
    assert {p.name for p in DASHBOARDS} == EXPECTED


def test_committed_dashboards_match_the_generator() -> None:
    rendered = _generator().render()
    assert set(rendered) == EXPECTED
    for name, text in rendered.items():
        committed = (GRAFANA / "dashboards" / name).read_text(encoding="utf-8")
        assert committed == text, (
            f"{name} differs: run uv run python {GRAFANA.relative_to(REPO)}/generate_dashboards.py"
        )


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_shape(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    assert dashboard["schemaVersion"] == 39
    assert dashboard["uid"].startswith("bigtech-")
    assert len(dashboard["uid"]) <= 40
    assert dashboard["title"].startswith("BigTech Chat / ")
    assert "bigtech-chat" in dashboard["tags"]
    panels = _panels(dashboard["panels"])
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    uids = set(_datasources())
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    occupied: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0
        assert grid["x"] + grid["w"] <= 24
        assert grid["h"] > 0
        cells = {
            (x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells
        if panel["type"] == "row":
            continue
        assert panel["title"]
        assert panel["datasource"]["uid"] in uids
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == panel["datasource"]["uid"]
            assert target["refId"]
            assert target["expr"]
            if panel["datasource"]["type"] == "loki":
                assert target["expr"].startswith("{")
            for word in target["expr"].replace("}", " ").replace(",", " ").split():
                if word.startswith('"$') and not word.startswith('"$__'):
                    assert word.strip('"').lstrip("$") in variables
    assert len(dashboard["templating"]["list"]) == len(variables)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_variables_used_in_queries_are_defined(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    text = json.dumps([p.get("targets", []) for p in _panels(dashboard["panels"])])
    for name in ("service",):
        if f"${name}" in text:
            assert name in defined
