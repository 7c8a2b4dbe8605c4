"""Every deployment believes X-Forwarded-For only from its gateway (docs/gateway.md "Client addresses"):
the compose stacks give Kong (and Caddy, the TLS proxy in front of it) a fixed address in a fixed subnet and
trust those addresses alone; Kubernetes trusts the pod network, never everyone."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILES = [ROOT / f"docker-compose.{stage}.yml" for stage in ("mvp", "msa", "test")]
_DEFAULT = re.compile(r"^\$\{[A-Z_]+:-(?P<value>[^}]+)\}$")


def _resolved(value: str) -> str:
    """A value as compose resolves it with no .env: ``${NAME:-default}`` is its default."""
    match = _DEFAULT.match(value)
    return match["value"] if match else value


@pytest.mark.parametrize("compose_file", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_services_trust_kong_alone(compose_file: Path) -> None:
    data = yaml.safe_load(compose_file.read_text())
    kong_networks = data["services"]["kong"]["networks"]
    (network, settings), *_ = kong_networks.items()
    kong = ipaddress.ip_address(_resolved(settings["ipv4_address"]))
    subnet = ipaddress.ip_network(_resolved(data["networks"][network]["ipam"]["config"][0]["subnet"]))
    assert kong in subnet
    # Where Caddy terminates TLS in front of Kong (mvp, msa), its fixed address is trusted too: Kong appends
    # it after the client address Caddy set.
    gateways = {str(kong)}
    if "caddy" in data["services"]:
        caddy = ipaddress.ip_address(_resolved(data["services"]["caddy"]["networks"][network]["ipv4_address"]))
        assert caddy in subnet
        gateways.add(str(caddy))
    trusting = {
        name: frozenset(_resolved(entry) for entry in service["environment"]["FORWARDED_ALLOW_IPS"].split(","))
        for name, service in data["services"].items()
        if "FORWARDED_ALLOW_IPS" in (service.get("environment") or {})
    }
    assert set(trusting) >= {"user-service", "friend-service", "chat-service"}
    assert set(trusting.values()) == {frozenset(gateways)}, trusting


def test_kubernetes_trusts_a_network_not_everyone() -> None:
    config = yaml.safe_load((ROOT / "k8s/base/config.yaml").read_text())
    value = config["data"]["FORWARDED_ALLOW_IPS"]
    assert "*" not in value
    for entry in value.split(","):
        assert ipaddress.ip_network(entry.strip()).is_private
