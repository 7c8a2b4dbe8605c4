"""A real Prometheus scrapes the three services of ``make dev`` with the repository's own job settings.

The scrape config is infrastructure/docker/prometheus/prometheus.yml's, with two changes only: each
service job gets a static target (127.0.0.1:<dev port>) instead of the compose DNS lookup, and everything
runs every second. The rule files are the repository's alerts. Then, through the HTTP API:

- ``sum by (service) (http_requests_total)`` has all three services (the ``service`` target label and
  ``honor_labels`` agree with the metrics' own label);
- every alert rule evaluates without error on real series (a many-to-many match, for instance, only
  shows with real data);
- every PromQL expression of the Grafana dashboards and alerts runs without error.

Needs ``/usr/bin/prometheus`` (Debian package ``prometheus``, installed by scripts/install-validators.sh).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from devstack import REPO, DevStack
from obs_support import Journey
from promql_metrics import ALERTS_DIR, promql_expressions

from chat_shared.testing.broker import free_port
from chat_shared.testing.processes import stop_process, wait_for_http_sync
from chat_shared.testing.waiting import eventually

PROMETHEUS_YML = REPO / "infrastructure/docker/prometheus/prometheus.yml"
SERVICES = ("user-service", "friend-service", "chat-service")
# Grafana's variables, as a dashboard would send them: per-service dashboards pin $service.
DASHBOARD_SERVICE = {"user.json": "user-service", "friend.json": "friend-service", "chat.json": "chat-service"}
GRAFANA_VARIABLE = re.compile(r"\$(?:\{|[A-Za-z_])")  # not "$1" of label_replace
LABEL_VALUES = re.compile(r"^\s*label_values\s*\((?P<selector>.*),\s*\w+\s*\)\s*$", re.DOTALL)


def prometheus_binary() -> str:
    found = shutil.which("prometheus") or ("/usr/bin/prometheus" if Path("/usr/bin/prometheus").is_file() else None)
    if found is None:
        pytest.fail(
            "no prometheus binary: install the Debian package `prometheus` (scripts/install-validators.sh); "
            "this test needs a real Prometheus server, it is not skipped"
        )
    return found


def scrape_config(stack: DevStack) -> dict[str, Any]:
    """The repository's prometheus.yml, pointed at the dev system and sped up."""
    real = yaml.safe_load(PROMETHEUS_YML.read_text())
    jobs = []
    for job in real["scrape_configs"]:
        if job["job_name"] not in SERVICES:
            continue  # exporters and Kong do not run in make dev
        job = {k: v for k, v in job.items() if not k.endswith("_sd_configs")}
        target = stack.services[job["job_name"]].removeprefix("http://")
        job["static_configs"] = [{"targets": [target]}]
        job["scrape_interval"] = "1s"
        job["scrape_timeout"] = "1s"
        jobs.append(job)
    assert {j["job_name"] for j in jobs} == set(SERVICES), "prometheus.yml lost a service job"
    return {
        "global": {**real["global"], "scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS_DIR / "*.yml")],
        "scrape_configs": jobs,
    }


@pytest.fixture(scope="module")
def prometheus(stack: DevStack, journey: Journey, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus server scraping the dev system; yields its base URL; stopped afterwards."""
    binary = prometheus_binary()
    folder = tmp_path_factory.mktemp("prometheus")
    config = folder / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(stack)))
    port = free_port()
    log_path = folder / "prometheus.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http_sync(f"{url}/-/ready", process, what="prometheus", log=log_path)
        yield url
    finally:
        stop_process(process)


@pytest.fixture
async def api(prometheus: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=prometheus, timeout=5, trust_env=False) as client:
        yield client


async def query(api: httpx.AsyncClient, expr: str) -> list[dict[str, Any]]:
    r = await api.get("/api/v1/query", params={"query": expr})
    body = r.json()
    assert r.status_code == 200 and body["status"] == "success", f"{expr}: {body.get('error', r.text)}"
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def test_prometheus_sees_requests_of_every_service(api: httpx.AsyncClient) -> None:
    async def all_three() -> dict[str, float] | None:
        rows = await query(api, "sum by (service) (http_requests_total)")
        found = {row["metric"].get("service", ""): float(row["value"][1]) for row in rows}
        return found if set(SERVICES) <= set(found) else None

    totals = await eventually(all_three, "http_requests_total of all three services in Prometheus")
    assert all(totals[s] > 0 for s in SERVICES), totals
    ups = await query(api, "up")
    assert {(row["metric"]["job"], row["metric"].get("service"), row["value"][1]) for row in ups} == {
        (s, s, "1") for s in SERVICES
    }, ups


async def test_alert_rules_evaluate_on_real_series(api: httpx.AsyncClient) -> None:
    """Every rule of alerts/*.yml has been evaluated at least once, without an error."""

    async def evaluated() -> list[dict[str, Any]] | None:
        r = await api.get("/api/v1/rules")
        groups = r.json()["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        if not rules or any(rule.get("lastEvaluation", "").startswith("0001") for rule in rules):
            return None
        return rules

    rules = await eventually(evaluated, "every rule group to be evaluated")
    expected = sum(
        len(group["rules"]) for path in ALERTS_DIR.glob("*.yml") for group in yaml.safe_load(path.read_text())["groups"]
    )
    assert len(rules) == expected
    broken = {rule["name"]: rule.get("lastError") for rule in rules if rule.get("health") != "ok"}
    assert not broken, f"rules failing on real series: {broken}"


def _grafana_to_promql(where: str, expr: str) -> str:
    """Substitute the dashboard variables as Grafana would for one dashboard."""
    service = next(
        (
            s
            for file, s in DASHBOARD_SERVICE.items()
            if where.startswith(f"infrastructure/docker/grafana/dashboards/{file}")
        ),
        None,
    )
    label_values = LABEL_VALUES.match(expr)
    if label_values:  # a query variable: Grafana asks for the series of this selector
        expr = label_values.group("selector")
    expr = expr.replace("$__rate_interval", "1m").replace("$__interval", "15s").replace("$__range", "1h")
    expr = re.sub(r"\$\{service(:\w+)?\}|\$service", service or "|".join(SERVICES), expr)
    return expr


async def test_every_dashboard_and_alert_query_runs(api: httpx.AsyncClient) -> None:
    """No PromQL of a dashboard panel, a dashboard variable or an alert fails to execute against the data."""
    await eventually(lambda: _has_series(api), "a first scrape")
    expressions = promql_expressions()
    assert len(expressions) > 50
    failures: list[str] = []

    async def run(where: str, expr: str) -> None:
        promql = _grafana_to_promql(where, expr)
        if GRAFANA_VARIABLE.search(promql):
            failures.append(f"{where}: unsubstituted variable in {promql}")
            return
        try:
            await query(api, promql)
        except AssertionError as exc:
            failures.append(f"{where}: {exc}")

    for chunk in range(0, len(expressions), 16):
        await asyncio.gather(*(run(w, e) for w, e in expressions[chunk : chunk + 16]))
    assert not failures, "\n".join(failures)


async def _has_series(api: httpx.AsyncClient) -> bool | None:
    return True if await query(api, "http_requests_total") else None
