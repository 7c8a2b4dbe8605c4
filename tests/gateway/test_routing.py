"""tools/dev/gateway's router follows Kong: path joining (path_handling v0), normalisation, longest prefix."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tools/dev is the checkout's, not installed
from tools.dev.gateway import routing as gateway

REPO = Path(__file__).resolve().parents[2]
KONG_YML = REPO / "infrastructure/docker/kong/kong.yml"


def make_route(base: str, prefix: str, strip: bool) -> gateway.Route:
    return gateway.Route(
        name="r",
        service="s",
        scheme="http",
        netloc="svc:80",
        base_path=base,
        prefix=prefix,
        strip_path=strip,
        connect_timeout=5,
        read_timeout=60,
        write_timeout=60,
        response_buffering=True,
        plugins={},
    )


# Kong's documentation table for path_handling v0 (service.path, route.path, request, strip_path → upstream).
@pytest.mark.parametrize(
    ("base", "prefix", "request_path", "strip", "upstream"),
    [
        ("/s", "/fv0", "/fv0req", False, "/s/fv0req"),
        ("/s", "/fv0", "/fv0req", True, "/s/req"),
        ("/s", "/fv0/", "/fv0/req", True, "/s/req"),
        ("/s/", "/fv0", "/fv0req", True, "/s/req"),
        ("/s/", "/fv0/", "/fv0/req", False, "/s/fv0/req"),
        ("/s/", "/fv0", "/fv0/req", True, "/s/req"),
        ("/auth", "/api/auth", "/api/auth", True, "/auth"),
        ("/auth", "/api/auth", "/api/auth/", True, "/auth/"),
        ("/", "/api", "/api", True, "/"),
    ],
)
def test_path_joining_matches_kong_v0(base: str, prefix: str, request_path: str, strip: bool, upstream: str) -> None:
    assert gateway.join_upstream(make_route(base, prefix, strip), request_path) == upstream


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("/api/auth/register", "/api/auth/register"),
        ("/api//auth///register", "/api/auth/register"),
        ("/api/auth/../health", "/api/health"),
        ("/api/auth/./login", "/api/auth/login"),
        ("/api/%61uth/login", "/api/auth/login"),
        ("/api/rooms/%2f", "/api/rooms/%2F"),
        ("/../../etc", "/etc"),
    ],
)
def test_normalisation(raw: str, normalized: str) -> None:
    assert gateway.normalize_path(raw) == normalized


@pytest.mark.parametrize(
    ("request_path", "url"),
    [
        ("/api/auth/register", "http://user-service:8005/auth/register"),
        ("/api/auth/login", "http://user-service:8005/auth/login"),
        ("/api/auth/login/json", "http://user-service:8005/auth/login/json"),
        ("/api/users/7", "http://user-service:8005/users/7"),
        ("/api/profile/me/password", "http://user-service:8005/profile/me/password"),
        ("/api/presence/heartbeat", "http://user-service:8005/presence/heartbeat"),
        ("/api/friends/requests/3/accept", "http://friend-service:8003/friends/requests/3/accept"),
        ("/api/blocks", "http://friend-service:8003/blocks"),
        ("/api/rooms/7/messages", "http://chat-service:8002/rooms/7/messages"),
        ("/api/messages/search", "http://chat-service:8002/messages/search"),
        ("/api/stream", "http://chat-service:8002/stream"),
        ("/api/stream/tickets", "http://chat-service:8002/stream/tickets"),
        ("/api/health", None),
        ("/health", None),
        ("/.well-known/jwks.json", None),
        ("/api/auth/../health", None),
    ],
)
def test_kong_yml_routes(request_path: str, url: str | None) -> None:
    found = gateway.match(gateway.load_config(KONG_YML), request_path)
    assert (found.url({}) if found else None) == url


def test_upstream_hosts_are_rewritten() -> None:
    found = gateway.match(gateway.load_config(KONG_YML), "/api/rooms/1")
    assert found is not None
    assert found.url({"chat-service": "127.0.0.1:18002"}, "after=3") == "http://127.0.0.1:18002/rooms/1?after=3"
    assert found.url({"chat-service:8002": "127.0.0.1:9"}) == "http://127.0.0.1:9/rooms/1"
    several = {"chat-service": "127.0.0.1:18002, 127.0.0.1:18012"}
    assert found.targets(several) == ["127.0.0.1:18002", "127.0.0.1:18012"]
    assert found.url(several, target="127.0.0.1:18012") == "http://127.0.0.1:18012/rooms/1"


def test_route_plugins_replace_global_ones() -> None:
    config = gateway.load_config(KONG_YML)
    login = gateway.match(config, "/api/auth/login")
    other = gateway.match(config, "/api/auth/register")
    assert login is not None and other is not None
    assert login.route.plugins["rate-limiting"]["minute"] < other.route.plugins["rate-limiting"]["minute"]
    assert "cors" in login.route.plugins and "correlation-id" in login.route.plugins
    stream = gateway.match(config, "/api/stream")
    assert stream is not None and stream.route.response_buffering is False
