"""Every public route of every service is reachable through the gateway; nothing internal is.

The routing is the one of ``tools.dev.gateway.routing`` (Kong's matching and path joining over kong.yml), so
this test, the no-Docker gateway and Kong itself cannot disagree. Each service's OpenAPI document is built
in a subprocess (every service has a top-level ``app`` package, so two cannot share one interpreter).
Adding a public route to a service without a gateway route makes this test fail.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tools/dev is the checkout's, not installed
from tools.dev.gateway import routing as gateway
from tools.docs.api_tables import build_openapi

REPO = Path(__file__).resolve().parents[2]
KONG_FILES = [REPO / "infrastructure/docker/kong/kong.yml", REPO / "infrastructure/docker/kong/kong.test.yml"]
SERVICES = ("user-service", "friend-service", "chat-service")
# Served by every service for operators and tooling, never through the gateway (CONTRACT §1).
INTERNAL_EXACT = frozenset(
    {"/health", "/ready", "/metrics", "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"}
)
INTERNAL_PREFIXES = ("/.well-known/", "/internal/")


def is_internal(path: str) -> bool:
    return path in INTERNAL_EXACT or path.startswith(INTERNAL_PREFIXES)


def concrete(template: str) -> str:
    """``/rooms/{room_id}/messages/{message_id}`` → ``/rooms/1/messages/1`` (a path Kong would see)."""
    return re.sub(r"\{[^}]+\}", "1", template)


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    """Each service's OpenAPI document, built as the API reference's tables build it."""
    return build_openapi(SERVICES)


@pytest.fixture(params=SERVICES)
def openapi(request: pytest.FixtureRequest, documents: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    service: str = request.param
    return service, documents[service]


@pytest.mark.parametrize("kong_file", KONG_FILES, ids=lambda p: p.name)
def test_every_public_route_is_reachable_through_the_gateway(
    openapi: tuple[str, dict[str, Any]], kong_file: Path
) -> None:
    service, document = openapi
    config = gateway.load_config(kong_file)
    public = sorted(p for p in document["paths"] if not is_internal(p))
    assert public, f"{service} documents no public path"
    problems = []
    for template in public:
        path = concrete(template)
        found = gateway.match(config, "/api" + path)
        if found is None:
            problems.append(f"/api{path}: no gateway route (add one to {kong_file.name})")
        elif found.route.host != service:
            problems.append(f"/api{path}: routed to {found.route.host}, not {service}")
        elif found.upstream_path != path:
            problems.append(f"/api{path}: reaches {found.upstream_path}, not {path}")
    assert not problems, f"{service}:\n" + "\n".join(problems)


@pytest.mark.parametrize("kong_file", KONG_FILES, ids=lambda p: p.name)
def test_internal_paths_are_not_reachable(openapi: tuple[str, dict[str, Any]], kong_file: Path) -> None:
    service, document = openapi
    config = gateway.load_config(kong_file)
    internal = {p for p in document["paths"] if is_internal(p)} | INTERNAL_EXACT | {"/.well-known/jwks.json"}
    reachable = []
    for path in sorted(internal):
        for request in ("/api" + path, path, f"/api/auth/..{path}", f"/api/rooms/%2e%2e/..{path}"):
            found = gateway.match(config, request)
            if found is not None and is_internal(found.upstream_path):
                reachable.append(f"{request} -> {found.route.host}{found.upstream_path}")
    assert not reachable, f"{service}: internal paths reachable through the gateway:\n" + "\n".join(reachable)


@pytest.mark.parametrize("kong_file", KONG_FILES, ids=lambda p: p.name)
def test_no_route_forwards_the_service_root(kong_file: Path) -> None:
    """A route whose upstream base is ``/`` (or an internal path) would expose /health, /metrics, /docs …"""
    config = gateway.load_config(kong_file)
    assert config.routes
    for route in config.routes:
        assert route.base_path not in ("", "/"), f"{route.name} forwards to the service root"
        assert not is_internal(route.base_path), f"{route.name} forwards to {route.base_path}"
        assert route.prefix.startswith("/api/"), f"{route.name}: {route.prefix} is outside /api"


@pytest.mark.parametrize("kong_file", KONG_FILES, ids=lambda p: p.name)
def test_every_route_targets_a_known_service(kong_file: Path) -> None:
    config = gateway.load_config(kong_file)
    ports = {"user-service": "8005", "friend-service": "8003", "chat-service": "8002", "notification-service": "8004"}
    for route in config.routes:
        assert route.host in ports, f"{route.name}: unknown upstream {route.netloc}"
        assert route.netloc == f"{route.host}:{ports[route.host]}", f"{route.name}: port of {route.netloc}"
