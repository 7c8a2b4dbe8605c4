"""TLS wherever a client connects (docs/deploy.md "TLS").

Compose (mvp, msa): Caddy is the only published entry, with automatic HTTPS for SITE_ADDRESS, the redirect
from HTTP and HSTS; Kong publishes no port and believes X-Forwarded-For from Caddy's fixed address alone.
The Caddyfile is checked by Caddy itself (``caddy validate`` adapts it and provisions every module) and its
adapted JSON is read for the properties above. Kubernetes: every Ingress of every overlay serves its host
with a certificate Secret, and the cert-manager Certificate names those hosts.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.custom_resources import is_custom, validate

ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = ROOT / "infrastructure/docker/caddy/Caddyfile"
PUBLIC_STAGES = [ROOT / f"docker-compose.{stage}.yml" for stage in ("mvp", "msa")]
OVERLAYS = sorted(p.name for p in (ROOT / "k8s/overlays").iterdir() if (p / "kustomization.yaml").exists())
_DEFAULT = re.compile(r"^\$\{[A-Z_]+:-(?P<value>[^}]+)\}$")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: run scripts/install-validators.sh")
    return found


def _caddy(command: str, tmp_path: Path, site: str) -> subprocess.CompletedProcess[str]:
    # Caddy keeps state under $HOME/XDG dirs even when validating: a temp dir, never the user's.
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
        "SITE_ADDRESS": site,
    }
    return subprocess.run(
        [_tool("caddy"), command, "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("site", ["localhost", "chat.example.com"])
def test_caddy_validate(site: str, tmp_path: Path) -> None:
    result = _caddy("validate", tmp_path, site)
    assert result.returncode == 0 and "Valid configuration" in result.stdout + result.stderr, result.stderr


def test_caddyfile_is_formatted() -> None:
    result = subprocess.run([_tool("caddy"), "fmt", str(CADDYFILE)], capture_output=True, text=True, check=True)
    assert result.stdout == CADDYFILE.read_text()


def _public_server(site: str, tmp_path: Path) -> dict[str, Any]:
    result = _caddy("adapt", tmp_path, site)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["admin"]["disabled"] is True
    (server,) = [s for s in config["apps"]["http"]["servers"].values() if s["listen"] == [":443"]]
    return server


def _handlers(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "handler" in node:
            found.append(node)
        for value in node.values():
            found += _handlers(value)
    elif isinstance(node, list):
        for value in node:
            found += _handlers(value)
    return found


@pytest.mark.parametrize("site", ["localhost", "chat.example.com"])
def test_caddy_serves_the_site_over_https_to_kong(site: str, tmp_path: Path) -> None:
    server = _public_server(site, tmp_path)
    (route,) = server["routes"]
    assert route["match"] == [{"host": [site]}]
    # Automatic HTTPS (certificate, HTTP->HTTPS redirect) stays on: nothing disables or skips it.
    assert "automatic_https" not in server
    handlers = _handlers(route["handle"])
    proxies = {h["upstreams"][0]["dial"]: h for h in handlers if h["handler"] == "reverse_proxy"}
    # /api/* to Kong, everything else to the web client's nginx (CONTRACT §1).
    assert set(proxies) == {"kong:8000", "web:8080"}
    assert proxies["kong:8000"]["flush_interval"] == -1, "server-sent events must not be buffered"
    assert '"path":["/api/*"]' in json.dumps(route, separators=(",", ":"))
    hsts = [h["response"]["set"]["Strict-Transport-Security"] for h in handlers if "set" in h.get("response", {})]
    assert hsts == [["max-age=31536000; includeSubDomains"]]


def _resolved(value: str) -> str:
    match = _DEFAULT.match(value)
    return match["value"] if match else value


@pytest.mark.parametrize("compose_file", PUBLIC_STAGES, ids=lambda p: p.name)
def test_only_caddy_is_published(compose_file: Path) -> None:
    services = yaml.safe_load(compose_file.read_text())["services"]
    caddy = services["caddy"]
    assert [_resolved(p.rsplit(":", 1)[0]) + ":" + p.rsplit(":", 1)[1] for p in caddy["ports"]] == [
        "80:80",
        "443:443",
        "443:443/udp",
    ]
    assert "ports" not in services["kong"], "Kong's listener stays internal"
    assert caddy["environment"]["SITE_ADDRESS"] == "${SITE_ADDRESS:-localhost}"
    assert "./infrastructure/docker/caddy/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert caddy["depends_on"] == {"kong": {"condition": "service_healthy"}, "web": {"condition": "service_healthy"}}
    public = [
        name for name, s in services.items() if any(not str(p).startswith("127.0.0.1:") for p in s.get("ports", []))
    ]
    assert public == ["caddy"], public


@pytest.mark.parametrize("compose_file", PUBLIC_STAGES, ids=lambda p: p.name)
def test_kong_believes_caddy_alone(compose_file: Path) -> None:
    data = yaml.safe_load(compose_file.read_text())
    services = data["services"]
    caddy = ipaddress.ip_address(_resolved(services["caddy"]["networks"]["edge"]["ipv4_address"]))
    kong_env = services["kong"]["environment"]
    assert ipaddress.ip_address(_resolved(kong_env["KONG_TRUSTED_IPS"])) == caddy
    assert kong_env["KONG_REAL_IP_HEADER"] == "X-Forwarded-For"
    subnet = ipaddress.ip_network(_resolved(data["networks"]["edge"]["ipam"]["config"][0]["subnet"]))
    kong = ipaddress.ip_address(_resolved(services["kong"]["networks"]["edge"]["ipv4_address"]))
    assert caddy in subnet and caddy != kong


def _render(overlay: str) -> list[dict[str, Any]]:
    rendered = subprocess.run(
        [_tool("kubectl"), "kustomize", str(ROOT / "k8s/overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_ingress_serves_tls(overlay: str) -> None:
    ingresses = [d for d in _render(overlay) if d["kind"] == "Ingress"]
    assert ingresses
    for ingress in ingresses:
        spec = ingress["spec"]
        hosts = {rule["host"] for rule in spec["rules"]}
        assert hosts and all(hosts), ingress["metadata"]["name"]
        covered = {host for tls in spec["tls"] for host in tls["hosts"]}
        assert hosts <= covered, ingress["metadata"]["name"]
        assert {tls["secretName"] for tls in spec["tls"]} == {"bigtech-chat-tls"}
        # ingress-nginx redirects to HTTPS whenever tls: is set; nothing here turns that off.
        assert ingress["metadata"]["annotations"].get("nginx.ingress.kubernetes.io/ssl-redirect", "true") == "true"


def test_production_certificate_covers_the_ingress_hosts() -> None:
    docs = _render("production")
    hosts = {rule["host"] for d in docs if d["kind"] == "Ingress" for rule in d["spec"]["rules"]}
    (certificate,) = [d for d in docs if d["kind"] == "Certificate"]
    assert certificate["spec"]["secretName"] == "bigtech-chat-tls"
    assert set(certificate["spec"]["dnsNames"]) == hosts
    (issuer,) = [d for d in docs if d["kind"] == "Issuer"]
    assert certificate["spec"]["issuerRef"] == {"kind": "Issuer", "name": issuer["metadata"]["name"]}
    solver_policies = [
        d for d in docs if d["kind"] == "NetworkPolicy" and "acme.cert-manager.io/http01-solver" in str(d["spec"])
    ]
    assert solver_policies, "the HTTP-01 solver must be reachable through the default-deny policy"


def _custom_documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((ROOT / "k8s").rglob("*.yaml")):
        if path.name == "kustomization.yaml" or path.name.endswith(".patch.yaml"):
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and is_custom(doc):
                found.append((f"{path.relative_to(ROOT)}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return found


@pytest.mark.parametrize("doc", [d for _, d in _custom_documents()], ids=[i for i, _ in _custom_documents()])
def test_custom_resources_match_their_crds(doc: dict[str, Any]) -> None:
    validate(doc)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_custom_resources_match_their_crds(overlay: str) -> None:
    for doc in _render(overlay):
        if is_custom(doc):
            validate(doc)
