"""Egress of the services (k8s/base/networkpolicies-egress.yaml), evaluated as Kubernetes does.

Each rendered overlay's NetworkPolicies are applied to concrete connections: a pod of a service to a pod,
a namespace or an outside address on a port. A connection is allowed when some Egress policy selecting
the source pod has a rule whose peers (none = everywhere) and ports (none = all) both match.
"""

from __future__ import annotations

import functools
import ipaddress
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "bigtech-chat"


@dataclass(frozen=True)
class Peer:
    """A destination: a pod (labels, namespace labels) or an address outside the cluster."""

    pod_labels: dict[str, str] = field(default_factory=dict)
    namespace_labels: dict[str, str] = field(default_factory=lambda: {"kubernetes.io/metadata.name": NAMESPACE})
    address: str | None = None


def _pod(name: str) -> Peer:
    return Peer(pod_labels={"app.kubernetes.io/name": name})


KUBE_DNS = Peer(pod_labels={"k8s-app": "kube-dns"}, namespace_labels={"kubernetes.io/metadata.name": "kube-system"})


def _outside(address: str) -> Peer:
    return Peer(namespace_labels={}, address=address)


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if "matchExpressions" in selector:
        for expr in selector["matchExpressions"]:
            value = labels.get(expr["key"])
            if expr["operator"] == "In" and value not in expr["values"]:
                return False
    return selector.get("matchLabels", {}).items() <= labels.items()


def _peer_matches(rule_peer: dict[str, Any], peer: Peer) -> bool:
    if "ipBlock" in rule_peer:
        if peer.address is None:
            return False
        block = rule_peer["ipBlock"]
        address = ipaddress.ip_address(peer.address)
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except", [])
        )
    if peer.address is not None:
        return False
    if "namespaceSelector" in rule_peer:
        if not _selects(rule_peer["namespaceSelector"], peer.namespace_labels):
            return False
    elif peer.namespace_labels.get("kubernetes.io/metadata.name") != NAMESPACE:
        return False
    return _selects(rule_peer.get("podSelector", {}), peer.pod_labels)


@functools.cache
def _policies(overlay: str) -> tuple[dict[str, Any], ...]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl not found: run scripts/install-validators.sh"
    rendered = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "k8s/overlays" / overlay)], capture_output=True, text=True, check=True
    ).stdout
    return tuple(d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "NetworkPolicy")


def allowed(overlay: str, source: str, peer: Peer, port: int, protocol: str = "TCP") -> bool:
    source_labels = {"app.kubernetes.io/name": source, "app.kubernetes.io/component": "api"}
    policies = [
        p
        for p in _policies(overlay)
        if "Egress" in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], source_labels)
    ]
    if not policies:
        return True  # no Egress policy selects the pod: everything is allowed
    for policy in policies:
        for rule in policy["spec"].get("egress", []):
            peers_ok = "to" not in rule or any(_peer_matches(p, peer) for p in rule["to"])
            ports_ok = "ports" not in rule or any(
                p.get("port") == port and p.get("protocol", "TCP") == protocol for p in rule["ports"]
            )
            if peers_ok and ports_ok:
                return True
    return False


OVERLAYS = ["mvp", "production"]
SERVICES = ["user-service", "friend-service", "chat-service"]
RDS = "10.20.30.40"  # a managed store outside the cluster
METADATA = "169.254.169.254"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_an_egress_policy(overlay: str, service: str) -> None:
    names = {p["metadata"]["name"] for p in _policies(overlay) if "Egress" in p["spec"]["policyTypes"]}
    assert f"{service}-egress" in names


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_dns_and_own_stores_are_reachable(overlay: str, service: str) -> None:
    assert allowed(overlay, service, KUBE_DNS, 53, "UDP") and allowed(overlay, service, KUBE_DNS, 53, "TCP")
    # In the namespace (MVP overlay) and outside the cluster (managed stores of production).
    for store, port in (("mysql", 3306), ("redis", 6379), ("kafka", 9092)):
        assert allowed(overlay, service, _pod(store), port), (service, store)
        assert allowed(overlay, service, _outside(RDS), port), (service, port)
    assert allowed(overlay, service, _outside(RDS), 27017) == (service == "chat-service")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_calls_are_exactly_the_known_ones(overlay: str) -> None:
    calls = {
        (s, t)
        for s in SERVICES
        for t, port in (("user-service", 8005), ("friend-service", 8003), ("chat-service", 8002))
        if allowed(overlay, s, _pod(t), port)
    }
    assert calls == {
        ("friend-service", "user-service"),  # JWKS, REST fallback for users it has no replica of
        ("chat-service", "user-service"),  # JWKS
        ("chat-service", "friend-service"),  # GET /internal/relationships
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_everything_else_is_dropped(overlay: str, service: str) -> None:
    assert not allowed(overlay, service, _outside(METADATA), 80)
    assert not allowed(overlay, service, _outside("93.184.216.34"), 80)
    assert not allowed(overlay, service, _outside("93.184.216.34"), 22)
    other_namespace = Peer(pod_labels={"app": "x"}, namespace_labels={"kubernetes.io/metadata.name": "default"})
    assert not allowed(overlay, service, other_namespace, 8080)
    assert not allowed(overlay, service, KUBE_DNS, 8080)
    # HTTPS out (the S3-compatible attachment store) for chat-service only.
    assert allowed(overlay, service, _outside("52.216.0.1"), 443) == (service == "chat-service")
