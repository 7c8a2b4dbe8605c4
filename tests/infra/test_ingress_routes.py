"""The Ingress rules route each request as kong.yml does, with the same rate limit.

ingress-nginx merges the Ingresses of one host into one nginx server. Once any of them sets
``use-regex``, every path of that host becomes a case-insensitive regex location (``location ~* "^PATH"``),
written longest path first (ties in reverse string order), and nginx takes the first regex location that
matches. So a general rule whose regex also matches ``/api/auth/login`` would win over the shorter login
rule, and login would get 100 requests a minute instead of 10. This test renders every overlay with
``kubectl kustomize``, orders the locations the way the controller does and checks, for each public path,
the Ingress it lands on against the Kong route (longest prefix wins) that the compose stages use.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = sorted(p.name for p in (ROOT / "k8s/overlays").iterdir() if (p / "kustomization.yaml").exists())
KONG = ROOT / "infrastructure/docker/kong/kong.yml"
ANNOTATION = "nginx.ingress.kubernetes.io/"

# Real request paths of CONTRACT §1 (the kong.yml route paths themselves are added below).
REQUESTS = [
    "/api/auth/login",
    "/api/auth/login/json",
    "/api/auth/register",
    "/api/auth/refresh",
    "/api/auth/logout",
    "/api/users/me",
    "/api/users/42",
    "/api/profile",
    "/api/presence/online",
    "/api/friends/requests",
    "/api/blocks/5",
    "/api/rooms",
    "/api/rooms/7/messages",
    "/api/stream",
    "/api/stream/tickets",
]


@dataclass(frozen=True)
class Location:
    ingress: str
    path: str
    service: str
    limit_rpm: int

    def matches(self, request_path: str) -> bool:
        return re.match(self.path, request_path, re.IGNORECASE) is not None


@functools.cache
def _locations(overlay: str) -> tuple[Location, ...]:
    """The overlay's regex locations in the order ingress-nginx writes them into nginx.conf."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl not found: run scripts/install-validators.sh"
    rendered = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "k8s/overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    locations = []
    for doc in yaml.safe_load_all(rendered):
        if not doc or doc["kind"] != "Ingress":
            continue
        annotations = doc["metadata"].get("annotations", {})
        assert annotations.get(ANNOTATION + "use-regex") == "true", doc["metadata"]["name"]
        for rule in doc["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                locations.append(
                    Location(
                        ingress=doc["metadata"]["name"],
                        path=path["path"],
                        service=path["backend"]["service"]["name"],
                        limit_rpm=int(annotations[ANNOTATION + "limit-rpm"]),
                    )
                )
    # sort.SliceStable twice in the controller: by path descending, then by length descending.
    locations.sort(key=lambda loc: loc.path, reverse=True)
    locations.sort(key=lambda loc: len(loc.path), reverse=True)
    return tuple(locations)


def _ingress_route(overlay: str, request_path: str) -> Location | None:
    return next((loc for loc in _locations(overlay) if loc.matches(request_path)), None)


@functools.cache
def _kong_routes() -> tuple[tuple[str, str, int], ...]:
    """(path prefix, upstream host, requests per minute) of each kong.yml route."""
    config = yaml.safe_load(KONG.read_text())
    (global_limit,) = [p["config"]["minute"] for p in config["plugins"] if p["name"] == "rate-limiting"]
    routes = []
    for service in config["services"]:
        host = service["url"].split("://", 1)[1].split(":", 1)[0]
        for route in service["routes"]:
            limits = [p["config"]["minute"] for p in route.get("plugins", []) if p["name"] == "rate-limiting"]
            for path in route["paths"]:
                routes.append((path, host, limits[0] if limits else global_limit))
    return tuple(routes)


def _kong_route(request_path: str) -> tuple[str, int]:
    matching = [r for r in _kong_routes() if request_path.startswith(r[0])]
    assert matching, f"no kong.yml route for {request_path}"
    _, host, limit = max(matching, key=lambda r: len(r[0]))
    return host, limit


def _probes() -> list[str]:
    return sorted({*REQUESTS, *(path for path, _, _ in _kong_routes())})


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("request_path", _probes())
def test_ingress_routes_like_kong(overlay: str, request_path: str) -> None:
    location = _ingress_route(overlay, request_path)
    assert location is not None, f"{request_path}: no Ingress rule"
    assert (location.service, location.limit_rpm) == _kong_route(request_path), location


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("request_path", _probes())
def test_every_path_matches_one_rule(overlay: str, request_path: str) -> None:
    """Disjoint regexes: the controller's ordering cannot change where a request goes."""
    matching = [loc.ingress for loc in _locations(overlay) if loc.matches(request_path)]
    assert len(matching) == 1, (request_path, matching)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize(
    "request_path", ["/api/auth/login", "/API/Auth/Login", "/api/auth/login/", "/api/auth/login/json"]
)
def test_login_gets_the_strict_limit(overlay: str, request_path: str) -> None:
    location = _ingress_route(overlay, request_path)
    assert location is not None
    assert (location.ingress, location.limit_rpm) == ("user-service-login", 10)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("request_path", ["/api/auth/loginx", "/api/auth/logins/1", "/api/authx", "/api/streamx"])
def test_lookalikes_do_not_reach_the_strict_or_stream_rules(overlay: str, request_path: str) -> None:
    location = _ingress_route(overlay, request_path)
    assert location is None or location.ingress not in ("user-service-login", "chat-service-stream"), location


def test_the_old_general_rule_would_have_shadowed_login() -> None:
    """The emulation itself: the rule this file guards against does win over login when ordered by length."""
    general = Location("user-service", "/api/((?:auth|users|profile|presence)(?:/.*)?)$", "user-service", 100)
    login = Location("user-service-login", "/api/(auth/login(?:/.*)?)$", "user-service", 10)
    ordered = sorted([login, general], key=lambda loc: len(loc.path), reverse=True)
    assert next(loc for loc in ordered if loc.matches("/api/auth/login")) is general
