"""tools/dev/gateway.py routes like Kong: path joining (path_handling v0), normalisation, longest prefix."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
KONG_YML = REPO / "infrastructure/docker/kong/kong.yml"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


gateway = _load("dev_gateway", REPO / "tools/dev/gateway.py")


def make_route(base: str, prefix: str, strip: bool) -> object:
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


def test_same_answers_as_the_kong_config_test_helper() -> None:
    """tests/config's route() is an independent reading of Kong's rules; both must agree on kong.yml."""
    helper_path = REPO / "tests/config/test_config_kong.py"
    if not helper_path.is_file():
        pytest.skip("tests/config/test_config_kong.py is not there")
    helper = _load("config_kong_helper", helper_path)
    if not hasattr(helper, "route"):
        pytest.skip("tests/config/test_config_kong.py has no route() helper any more")
    import yaml

    kong = yaml.safe_load(KONG_YML.read_text(encoding="utf-8"))
    config = gateway.load_config(KONG_YML)
    paths = [
        "/api/auth",
        "/api/auth/",
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/login/json",
        "/api/users?ids=1,2",
        "/api/users/search?q=al",
        "/api/profile/me",
        "/api/friends",
        "/api/friends/",
        "/api/friends/requests?direction=incoming",
        "/api/blocks/9",
        "/api/rooms",
        "/api/rooms/1/read",
        "/api/stream",
        "/api/stream/tickets",
        "/api/streamx",
        "/api/health",
        "/metrics",
        "/",
    ]
    for path in paths:
        base, _, query = path.partition("?")
        found = gateway.match(config, base)
        assert (found.url({}, query) if found else None) == helper.route(kong, path), path


def test_upstream_hosts_are_rewritten() -> None:
    found = gateway.match(gateway.load_config(KONG_YML), "/api/rooms/1")
    assert found is not None
    assert found.url({"chat-service": "127.0.0.1:18002"}, "after=3") == "http://127.0.0.1:18002/rooms/1?after=3"
    assert found.url({"chat-service:8002": "127.0.0.1:9"}) == "http://127.0.0.1:9/rooms/1"


def test_route_plugins_replace_global_ones() -> None:
    config = gateway.load_config(KONG_YML)
    login = gateway.match(config, "/api/auth/login")
    other = gateway.match(config, "/api/auth/register")
    assert login is not None and other is not None
    assert login.route.plugins["rate-limiting"]["minute"] < other.route.plugins["rate-limiting"]["minute"]
    assert "cors" in login.route.plugins and "correlation-id" in login.route.plugins
    stream = gateway.match(config, "/api/stream")
    assert stream is not None and stream.route.response_buffering is False
