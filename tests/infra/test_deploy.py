"""Deploys cannot ship a red commit (docs/deploy.md "CI/CD").

The workflows' shape (gate -> staging -> approved production with the same digests, full SHAs only), zizmor's
pedantic persona over every workflow with the reviewed configuration, the rollout's time limits, and the
gate script itself: ``scripts/deploy/gate.sh`` runs against a stand-in for the ``gh`` CLI that answers the
two GitHub API calls from recorded responses and applies the script's ``--jq`` filters with the real jq.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github/workflows"
SCRIPTS = ROOT / "scripts/deploy"
SHA = "0123456789abcdef0123456789abcdef01234567"
VENV_BIN = Path(sys.executable).parent


def _workflow(name: str) -> dict[str, Any]:
    data: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # PyYAML reads the key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


@pytest.mark.parametrize("workflow", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_zizmor_pedantic(workflow: Path) -> None:
    zizmor = VENV_BIN / "zizmor"
    result = subprocess.run(
        [
            str(zizmor),
            "--offline",
            "--persona",
            "pedantic",
            "--config",
            str(ROOT / ".github/zizmor.yml"),
            str(workflow),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_gates_staging_then_production() -> None:
    deploy = _workflow("deploy.yml")
    assert deploy["on"]["push"] == {"branches": ["main"]}
    assert deploy["on"]["workflow_dispatch"]["inputs"]["sha"]["required"] is True
    assert deploy["concurrency"]["cancel-in-progress"] is False
    jobs = deploy["jobs"]
    gate_run = "\n".join(step.get("run", "") for step in jobs["gate"]["steps"])
    assert "^[0-9a-f]{40}$" in gate_run
    assert "scripts/deploy/gate.sh" in gate_run
    assert "imagetools inspect" in gate_run
    assert jobs["gate"]["permissions"] == {"contents": "read", "actions": "read", "checks": "read", "packages": "read"}
    assert jobs["staging"]["needs"] == "gate"
    assert jobs["production"]["needs"] == ["gate", "staging"]
    for name in ("staging", "production"):
        job = jobs[name]
        assert job["uses"].endswith(".github/workflows/deploy-environment.yml")
        assert job["with"] == {
            "environment": name,
            "sha": "${{ needs.gate.outputs.sha }}",
            "digests": "${{ needs.gate.outputs.digests }}",
        }


def test_each_environment_backs_up_rolls_out_smoke_tests_and_notifies() -> None:
    called = _workflow("deploy-environment.yml")
    (job,) = called["jobs"].values()
    assert job["environment"]["name"] == "${{ inputs.environment }}"
    runs = [step.get("run", "") for step in job["steps"]]
    assert any("scripts/deploy/rollout.sh" in run for run in runs)
    assert any("scripts/deploy/smoke.sh" in run and "https://" in run for run in runs)
    (undo,) = [s for s in job["steps"] if s.get("env", {}).get("ROLLOUT_STEP") == "undo"]
    assert undo["if"] == "failure() && steps.smoke.outcome == 'failure'"
    (notify,) = [s for s in job["steps"] if s.get("name") == "notify"]
    assert notify["if"] == "always()" and "{text: $text}" in notify["run"]
    rollout = (SCRIPTS / "rollout.sh").read_text()
    assert "create job" in rollout and "--from=cronjob/backup" in rollout  # backup before migrations
    assert rollout.index("backup_first\n        migrate") > 0
    assert "@sha256:[0-9a-f]{64}$" in rollout  # digests only


def test_rollouts_fail_within_about_three_minutes() -> None:
    kubectl = shutil.which("kubectl")
    assert kubectl
    for overlay in ("mvp", "production"):
        rendered = subprocess.run(
            [kubectl, "kustomize", str(ROOT / "k8s/overlays" / overlay)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        deployments = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment"]
        assert deployments
        for deployment in deployments:
            assert deployment["spec"]["progressDeadlineSeconds"] == 180, deployment["metadata"]["name"]
    # The rollout waits a little longer than the deadline, for all services at once.
    rollout = (SCRIPTS / "rollout.sh").read_text()
    assert "ROLLOUT_TIMEOUT:-240s" in rollout
    assert 'rollout status "deployment/$d" --timeout="$timeout" &' in rollout


def test_e2e_runs_on_pull_requests_against_the_test_gateway_config() -> None:
    e2e = _workflow("e2e.yml")
    assert "pull_request" in e2e["on"]
    compose = yaml.safe_load((ROOT / "docker-compose.test.yml").read_text())
    services = compose["services"]
    assert "./infrastructure/docker/kong/kong.test.yml:/kong/kong.yml:ro" in services["kong"]["volumes"]
    for name in ("user-service", "friend-service", "chat-service"):
        assert services[name]["depends_on"]["kafka-init"] == {"condition": "service_completed_successfully"}


@pytest.mark.parametrize("script", sorted(SCRIPTS.glob("*.sh")), ids=lambda p: p.name)
def test_deploy_scripts_parse(script: Path) -> None:
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)


# ------------------------------------------------------------------------------------------ gate.sh
FAKE_GH = """#!/usr/bin/env python3
# Stand-in for `gh api [--paginate] PATH --jq FILTER`: the recorded response of PATH through the real jq.
import json, os, subprocess, sys
args = sys.argv[1:]
assert args[0] == "api", args
path = next(a for a in args[1:] if not a.startswith("-") and a != args[args.index("--jq") + 1])
jq_filter = args[args.index("--jq") + 1]
responses = json.load(open(os.environ["FAKE_GH_RESPONSES"]))
key = "runs" if "/actions/runs" in path else "checks"
sys.exit(subprocess.run(["jq", "-r", jq_filter], input=json.dumps(responses[key]), text=True).returncode)
"""


def _run_gate(
    tmp_path: Path, runs: list[dict[str, Any]], checks: list[dict[str, Any]]
) -> subprocess.CompletedProcess[str]:
    assert shutil.which("jq"), "jq not found"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    gh = bin_dir / "gh"
    gh.write_text(FAKE_GH)
    gh.chmod(gh.stat().st_mode | stat.S_IEXEC)
    responses = tmp_path / "responses.json"
    responses.write_text(json.dumps({"runs": {"workflow_runs": runs}, "checks": {"check_runs": checks}}))
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "GITHUB_REPOSITORY": "bigtech-chat/bigtech-chat",
        "FAKE_GH_RESPONSES": str(responses),
        "GATE_TIMEOUT_SECONDS": "0",
        "GATE_POLL_SECONDS": "0",
    }
    return subprocess.run(
        ["bash", str(SCRIPTS / "gate.sh"), SHA], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _run(
    path: str, conclusion: str | None, status: str = "completed", number: int = 7, attempt: int = 1
) -> dict[str, Any]:
    return {"path": path, "run_number": number, "run_attempt": attempt, "status": status, "conclusion": conclusion}


GREEN = [_run(f".github/workflows/{name}.yml", "success") for name in ("ci", "e2e", "images")]
GREEN_CHECKS = [{"name": "lint", "status": "completed", "conclusion": "success"}]


def test_gate_passes_a_green_commit(tmp_path: Path) -> None:
    result = _run_gate(tmp_path, GREEN, GREEN_CHECKS)
    assert result.returncode == 0, result.stderr
    assert "passed" in result.stdout


def test_gate_refuses_a_failed_workflow(tmp_path: Path) -> None:
    runs = [*GREEN[:1], _run(".github/workflows/e2e.yml", "failure"), *GREEN[2:]]
    result = _run_gate(tmp_path, runs, GREEN_CHECKS)
    assert result.returncode == 1 and "e2e.yml did not pass" in result.stderr


def test_gate_judges_the_latest_attempt(tmp_path: Path) -> None:
    retried = [_run(".github/workflows/ci.yml", "failure", attempt=1), *GREEN]
    retried[1] = _run(".github/workflows/ci.yml", "success", attempt=2)
    assert _run_gate(tmp_path, retried, GREEN_CHECKS).returncode == 0
    failed_again = [_run(".github/workflows/ci.yml", "success", attempt=1), *GREEN[1:]]
    failed_again.append(_run(".github/workflows/ci.yml", "failure", attempt=2))
    assert _run_gate(tmp_path, failed_again, GREEN_CHECKS).returncode == 1


def test_gate_refuses_a_missing_or_unfinished_workflow(tmp_path: Path) -> None:
    missing = _run_gate(tmp_path, GREEN[:2], GREEN_CHECKS)
    assert missing.returncode == 1 and "images.yml" in missing.stderr
    running = _run_gate(tmp_path, [*GREEN[:2], _run(".github/workflows/images.yml", None, "in_progress")], GREEN_CHECKS)
    assert running.returncode == 1 and "still waiting" in running.stderr


def test_gate_refuses_a_failed_check_run(tmp_path: Path) -> None:
    checks = [*GREEN_CHECKS, {"name": "trivy", "status": "completed", "conclusion": "timed_out"}]
    result = _run_gate(tmp_path, GREEN, checks)
    assert result.returncode == 1 and "trivy: timed_out" in result.stderr


def test_gate_refuses_a_short_sha(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(SCRIPTS / "gate.sh"), SHA[:12]], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2 and "full commit SHA" in result.stderr
