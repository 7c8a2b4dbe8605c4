"""infrastructure/docker/kong/kong.yml: decK's offline validation, and the routing CONTRACT §1 asks for.

``route()`` below asks the dev gateway's router (``tools.dev.gateway.routing``: Kong's matching and path
joining, path_handling v0) where a request goes, so the table of CONTRACT §1 is checked end to end without
a Kong, by the same code that routes ``make dev``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tools/dev is the checkout's, not installed
from tools.dev.gateway.routing import GatewayConfig, load_config, match

REPO = Path(__file__).resolve().parents[2]
KONG_YML = REPO / "infrastructure/docker/kong/kong.yml"
TAG = "bigtech-chat"

UPSTREAMS = {
    "user-service": "user-service:8005",
    "friend-service": "friend-service:8003",
    "chat-service": "chat-service:8002",
    "notification-service": "notification-service:8004",
}
# CONTRACT §1: gateway prefix -> (service, upstream prefix)
CONTRACT_PREFIXES = {
    "/api/auth": ("user-service", "/auth"),
    "/api/users": ("user-service", "/users"),
    "/api/profile": ("user-service", "/profile"),
    "/api/presence": ("user-service", "/presence"),
    "/api/friends": ("friend-service", "/friends"),
    "/api/blocks": ("friend-service", "/blocks"),
    "/api/rooms": ("chat-service", "/rooms"),
    "/api/messages": ("chat-service", "/messages"),
    "/api/stream": ("chat-service", "/stream"),
    "/api/notifications": ("notification-service", "/notifications"),
}


@pytest.fixture(scope="module")
def kong() -> dict[str, Any]:
    return yaml.safe_load(KONG_YML.read_text(encoding="utf-8"))


def _routes(kong: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(service, route) for service in kong["services"] for route in service.get("routes", [])]


@pytest.fixture(scope="module")
def router() -> GatewayConfig:
    return load_config(KONG_YML)


def route(config: GatewayConfig, request_path: str) -> str | None:
    """The upstream URL Kong proxies ``request_path`` to, or None when no route matches (404)."""
    path, _, query = request_path.partition("?")
    found = match(config, path)
    return found.url({}, query) if found else None


# ------------------------------------------------------------------------------------ validators
def test_deck_validates_the_file_offline() -> None:
    deck = shutil.which("deck")
    if deck is None:
        pytest.fail("decK is not installed: apt-get install -y deck (scripts/install-validators.sh does it)")
    # `deck validate` (decK 1.x) reads the state file only and never contacts Kong; newer decKs call the
    # same offline check `deck file validate`.
    help_text = subprocess.run([deck, "--help"], capture_output=True, text=True, check=False).stdout
    command = (
        [deck, "file", "validate", str(KONG_YML)]
        if "\n  file " in help_text
        else [deck, "validate", "-s", str(KONG_YML)]
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deck_rejects_a_broken_file(tmp_path: Path) -> None:
    """The validator really checks something: an unknown field on a route fails it."""
    deck = shutil.which("deck")
    if deck is None:
        pytest.fail("decK is not installed: apt-get install -y deck")
    broken = tmp_path / "kong.yml"
    broken.write_text(
        KONG_YML.read_text(encoding="utf-8").replace(
            "strip_path: true", "strip_path: true\n        stirp_path: true", 1
        ),
        encoding="utf-8",
    )
    help_text = subprocess.run([deck, "--help"], capture_output=True, text=True, check=False).stdout
    command = (
        [deck, "file", "validate", str(broken)] if "\n  file " in help_text else [deck, "validate", "-s", str(broken)]
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0


# ------------------------------------------------------------------------------------ structure
def test_format_and_plain_shape(kong: dict[str, Any]) -> None:
    assert kong["_format_version"] == "3.0"
    assert set(kong) == {"_format_version", "services", "plugins"}
    for service in kong["services"]:
        assert set(service) >= {"name", "url", "routes"}
        assert not {"host", "port", "protocol", "path"} & set(service), "one url per service, nothing else"
        for r in service["routes"]:
            assert r["strip_path"] is True
            assert r["protocols"] == ["http", "https"]
            for path in r["paths"]:
                assert path.startswith("/api/"), "plain prefixes only (a regex path starts with ~)"
                assert not path.endswith("/")


def test_every_entity_is_tagged(kong: dict[str, Any]) -> None:
    entities = [*kong["services"], *kong["plugins"]]
    for _service, r in _routes(kong):
        entities += [r, *r.get("plugins", [])]
    for entity in entities:
        assert TAG in entity.get("tags", []), entity.get("name")


def test_names_are_unique(kong: dict[str, Any]) -> None:
    services = [s["name"] for s in kong["services"]]
    routes = [r["name"] for _, r in _routes(kong)]
    paths = [p for _, r in _routes(kong) for p in r["paths"]]
    assert len(set(services)) == len(services)
    assert len(set(routes)) == len(routes)
    assert len(set(paths)) == len(paths)


def test_every_contract_prefix_reaches_its_service(kong: dict[str, Any], router: GatewayConfig) -> None:
    prefixes = {p for _, r in _routes(kong) for p in r["paths"]}
    assert set(CONTRACT_PREFIXES) <= prefixes
    for prefix, (service, upstream_prefix) in CONTRACT_PREFIXES.items():
        assert route(router, prefix) == f"http://{UPSTREAMS[service]}{upstream_prefix}"
    # nothing outside CONTRACT §1 is routed (login is a longer prefix of /api/auth, same service)
    for _, r in _routes(kong):
        for path in r["paths"]:
            assert any(path == p or path.startswith(p + "/") for p in CONTRACT_PREFIXES), path


@pytest.mark.parametrize(
    ("request_path", "upstream"),
    [
        ("/api/auth/register", "http://user-service:8005/auth/register"),
        ("/api/auth/login", "http://user-service:8005/auth/login"),
        ("/api/auth/login/json", "http://user-service:8005/auth/login/json"),
        ("/api/auth/refresh", "http://user-service:8005/auth/refresh"),
        ("/api/auth/logout", "http://user-service:8005/auth/logout"),
        ("/api/users/42", "http://user-service:8005/users/42"),
        ("/api/users?ids=1,2,3", "http://user-service:8005/users?ids=1,2,3"),
        ("/api/users/search?q=ki&limit=5", "http://user-service:8005/users/search?q=ki&limit=5"),
        ("/api/profile/me", "http://user-service:8005/profile/me"),
        ("/api/profile/me/password", "http://user-service:8005/profile/me/password"),
        ("/api/presence/heartbeat", "http://user-service:8005/presence/heartbeat"),
        ("/api/friends", "http://friend-service:8003/friends"),
        ("/api/friends/requests?direction=incoming", "http://friend-service:8003/friends/requests?direction=incoming"),
        ("/api/friends/requests/7/accept", "http://friend-service:8003/friends/requests/7/accept"),
        ("/api/friends/9", "http://friend-service:8003/friends/9"),
        ("/api/blocks", "http://friend-service:8003/blocks"),
        ("/api/blocks/9", "http://friend-service:8003/blocks/9"),
        ("/api/rooms", "http://chat-service:8002/rooms"),
        ("/api/rooms/3/messages?before=120&limit=50", "http://chat-service:8002/rooms/3/messages?before=120&limit=50"),
        (
            "/api/rooms/3/messages/abc/reactions/%F0%9F%91%8D",
            "http://chat-service:8002/rooms/3/messages/abc/reactions/%F0%9F%91%8D",
        ),
        ("/api/rooms/3/members/me", "http://chat-service:8002/rooms/3/members/me"),
        ("/api/rooms/3/messages/search?q=hi", "http://chat-service:8002/rooms/3/messages/search?q=hi"),
        ("/api/messages/search?q=%EC%95%88%EB%85%95", "http://chat-service:8002/messages/search?q=%EC%95%88%EB%85%95"),
        ("/api/stream", "http://chat-service:8002/stream"),
        ("/api/stream?ticket=t0k", "http://chat-service:8002/stream?ticket=t0k"),
        ("/api/stream/tickets", "http://chat-service:8002/stream/tickets"),
    ],
)
def test_contract_paths_reach_the_right_upstream_path(router: GatewayConfig, request_path: str, upstream: str) -> None:
    assert route(router, request_path) == upstream


@pytest.mark.parametrize("request_path", ["/health", "/metrics", "/docs", "/auth/login", "/api", "/api/message"])
def test_unrouted_paths_get_no_route(router: GatewayConfig, request_path: str) -> None:
    assert route(router, request_path) is None


def test_stream_route_is_unbuffered_with_a_long_read_timeout(kong: dict[str, Any]) -> None:
    [(service, r)] = [(s, r) for s, r in _routes(kong) if "/api/stream" in r["paths"]]
    assert r["response_buffering"] is False
    assert r["request_buffering"] is False
    assert service["read_timeout"] >= 3_600_000  # ms: longer than any stream's lifetime
    assert service["write_timeout"] >= 60_000
    # other services keep ordinary timeouts
    for other in kong["services"]:
        if other is not service:
            assert other["read_timeout"] <= 60_000


def _global_plugins(kong: dict[str, Any]) -> dict[str, dict[str, Any]]:
    plugins = {p["name"]: p for p in kong["plugins"]}
    assert len(plugins) == len(kong["plugins"]), "one global instance per plugin"
    for p in kong["plugins"]:
        assert not {"service", "route", "consumer"} & set(p), "global plugins are global"
    return plugins


def test_required_global_plugins(kong: dict[str, Any]) -> None:
    plugins = _global_plugins(kong)
    assert {"correlation-id", "rate-limiting", "cors", "request-size-limiting", "prometheus"} <= set(plugins)

    correlation = plugins["correlation-id"]["config"]
    assert correlation == {"header_name": "X-Request-ID", "generator": "uuid", "echo_downstream": True}

    limit = plugins["rate-limiting"]["config"]
    assert limit["minute"] == 100
    assert limit["limit_by"] == "ip"
    assert limit["policy"] == "local"

    size = plugins["request-size-limiting"]["config"]
    assert size["allowed_payload_size"] == 1
    assert size["size_unit"] == "megabytes"

    prometheus = plugins["prometheus"]["config"]
    assert prometheus["per_consumer"] is False
    for flag in ("status_code_metrics", "latency_metrics", "bandwidth_metrics", "upstream_health_metrics"):
        assert prometheus[flag] is True, flag

    cors = plugins["cors"]["config"]
    assert "*" not in cors["origins"], "explicit origins"
    assert {"Authorization", "Content-Type", "X-Request-ID", "Last-Event-ID"} <= set(cors["headers"])
    assert "X-Request-ID" in cors["exposed_headers"]
    assert cors["credentials"] is False  # bearer tokens, no cookies


# Config keys of the Kong 3.x plugin schemas (kong/plugins/<name>/schema.lua): decK 1.x does not know
# plugin schemas, so a typo in a plugin's config would only show when Kong loads the file.
PLUGIN_CONFIG_KEYS = {
    "correlation-id": {"header_name", "generator", "echo_downstream"},
    "rate-limiting": {
        "second",
        "minute",
        "hour",
        "day",
        "month",
        "year",
        "limit_by",
        "header_name",
        "path",
        "policy",
        "fault_tolerant",
        "hide_client_headers",
        "error_code",
        "error_message",
        "sync_rate",
        "redis",
    },
    "cors": {
        "origins",
        "headers",
        "exposed_headers",
        "methods",
        "max_age",
        "credentials",
        "private_network",
        "preflight_continue",
        "allow_origin_absent",
    },
    "request-size-limiting": {"allowed_payload_size", "size_unit", "require_content_length"},
    "prometheus": {
        "per_consumer",
        "status_code_metrics",
        "ai_metrics",
        "latency_metrics",
        "bandwidth_metrics",
        "upstream_health_metrics",
    },
}


def test_plugin_configs_use_only_known_keys(kong: dict[str, Any]) -> None:
    plugins = list(kong["plugins"])
    for _, r in _routes(kong):
        plugins += r.get("plugins", [])
    for plugin in plugins:
        assert set(plugin["config"]) <= PLUGIN_CONFIG_KEYS[plugin["name"]], plugin["name"]
    cors = _global_plugins(kong)["cors"]["config"]
    assert set(cors["methods"]) <= {"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "TRACE", "CONNECT"}


def test_login_has_a_stricter_rate_limit(kong: dict[str, Any]) -> None:
    [(service, r)] = [(s, r) for s, r in _routes(kong) if "/api/auth/login" in r["paths"]]
    assert service["url"] == "http://user-service:8005/auth/login"
    [limit] = [p for p in r.get("plugins", []) if p["name"] == "rate-limiting"]
    assert limit["config"]["limit_by"] == "ip"
    assert limit["config"]["minute"] < _global_plugins(kong)["rate-limiting"]["config"]["minute"]
    # the login route is only for login: no other route carries plugins
    assert [r2["name"] for _, r2 in _routes(kong) if r2.get("plugins")] == [r["name"]]


# ------------------------------------------------------------------------------------ companions
KONG_TEST_YML = REPO / "infrastructure/docker/kong/kong.test.yml"
ERROR_TEMPLATE = REPO / "infrastructure/docker/kong/error-template.json"


def test_deck_validates_the_e2e_variant() -> None:
    deck = shutil.which("deck")
    if deck is None:
        pytest.fail("decK is not installed: apt-get install -y deck")
    result = subprocess.run(
        [deck, "validate", "-s", str(KONG_TEST_YML)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _rate_limits(config: dict[str, Any]) -> list[dict[str, Any]]:
    plugins = list(config["plugins"]) + [p for _, r in _routes(config) for p in r.get("plugins", [])]
    return [p for p in plugins if p["name"] == "rate-limiting"]


def test_e2e_variant_differs_only_in_the_rate_limits() -> None:
    variant = yaml.safe_load(KONG_TEST_YML.read_text(encoding="utf-8"))
    original = yaml.safe_load(KONG_YML.read_text(encoding="utf-8"))
    assert len(_rate_limits(variant)) == len(_rate_limits(original)) == 2
    for limit in _rate_limits(variant):
        assert limit["config"]["minute"] >= 100_000
        limit["config"]["minute"] = None
    for limit in _rate_limits(original):
        limit["config"]["minute"] = None
    assert variant == original


def test_error_template_renders_the_contract_error_shape() -> None:
    """Kong's KONG_ERROR_TEMPLATE_JSON: its own 404/413/429/502 bodies become {"detail": ...}."""
    import json

    template = ERROR_TEMPLATE.read_text(encoding="utf-8")
    assert template.count("%s") == 1
    assert json.loads(template.replace("%s", "API rate limit exceeded")) == {"detail": "API rate limit exceeded"}
