"""Kong's routing over a kong.yml: which route a request path takes and the upstream path it reaches.

The one reading of the routing table: the dev gateway routes by it, ``tests/config`` checks CONTRACT §1's
table with it and ``tests/gateway`` checks every service's public paths with it. Pure functions, no I/O
beyond reading the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

REPO = Path(__file__).resolve().parents[3]
KONG_YML = REPO / "infrastructure/docker/kong/kong.yml"


@dataclass(frozen=True)
class Route:
    """One Kong route with the service it belongs to (one entry per path of the route)."""

    name: str
    service: str
    scheme: str
    netloc: str  # as written in kong.yml, e.g. ``user-service:8005``
    base_path: str  # the service url's path, ``/`` when it has none
    prefix: str
    strip_path: bool
    connect_timeout: float
    read_timeout: float
    write_timeout: float
    response_buffering: bool
    plugins: Mapping[str, Mapping[str, Any]]

    @property
    def host(self) -> str:
        """The upstream host name without the port (``user-service``)."""
        return self.netloc.rsplit(":", 1)[0]


@dataclass(frozen=True)
class GatewayConfig:
    """The routes (longest prefix first) and the global plugins of a kong.yml."""

    routes: tuple[Route, ...]
    plugins: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Match:
    """A routed request: the route and the upstream path (query string not included)."""

    route: Route
    upstream_path: str

    def targets(self, hosts: Mapping[str, str]) -> list[str]:
        """The ``host:port`` targets of the route's upstream: the compose host rewritten through ``hosts``,
        whose value may list several targets separated by commas (an upstream with several targets)."""
        r = self.route
        value = hosts.get(r.netloc) or hosts.get(r.host) or r.netloc
        return [target.strip() for target in value.split(",") if target.strip()]

    def url(self, hosts: Mapping[str, str], query: str = "", target: str | None = None) -> str:
        """The full upstream URL on ``target``, by default the first of :meth:`targets`."""
        netloc = target or self.targets(hosts)[0]
        return f"{self.route.scheme}://{netloc}{self.upstream_path}" + (f"?{query}" if query else "")


def _enabled_plugins(items: Iterable[Mapping[str, Any]] | None) -> dict[str, Mapping[str, Any]]:
    return {p["name"]: p.get("config") or {} for p in items or () if p.get("enabled", True)}


def load_config(path: Path | str = KONG_YML) -> GatewayConfig:
    """Read the routing table and plugins of a Kong declarative file (format 3.0)."""
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    global_plugins = _enabled_plugins(doc.get("plugins"))
    routes: list[Route] = []
    for service in doc.get("services") or ():
        if "url" in service:
            url = urlsplit(service["url"])
            scheme, netloc, base = url.scheme, url.netloc, url.path or "/"
        else:
            scheme = service.get("protocol", "http")
            netloc = f"{service['host']}:{service.get('port', 80)}"
            base = service.get("path") or "/"
        service_plugins = _enabled_plugins(service.get("plugins"))
        for route in service.get("routes") or ():
            plugins = {**global_plugins, **service_plugins, **_enabled_plugins(route.get("plugins"))}
            for prefix in route.get("paths") or ():
                if prefix.startswith("~"):
                    raise ValueError(f"route {route.get('name')}: regex paths are not supported by the dev gateway")
                routes.append(
                    Route(
                        name=route.get("name", prefix),
                        service=service.get("name", netloc),
                        scheme=scheme,
                        netloc=netloc,
                        base_path=base,
                        prefix=prefix,
                        strip_path=route.get("strip_path", True),
                        connect_timeout=service.get("connect_timeout", 60000) / 1000,
                        read_timeout=service.get("read_timeout", 60000) / 1000,
                        write_timeout=service.get("write_timeout", 60000) / 1000,
                        response_buffering=route.get("response_buffering", True),
                        plugins=plugins,
                    )
                )
    routes.sort(key=lambda r: len(r.prefix), reverse=True)
    return GatewayConfig(routes=tuple(routes), plugins=global_plugins)


_UNRESERVED = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def normalize_path(path: str) -> str:
    """Kong's ``normalize(uri, merge_slashes=true)``: decode unreserved escapes, resolve dots, merge slashes."""

    def decode(m: re.Match[str]) -> str:
        char = chr(int(m.group(1), 16))
        return char if char in _UNRESERVED_CHARS else "%" + m.group(1).upper()

    path = _UNRESERVED.sub(decode, path)
    path = re.sub(r"/{2,}", "/", path)
    out: list[str] = []
    segments = path.split("/")
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == ".":
            if last:
                out.append("")
        elif segment == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    joined = "/".join(out)
    return joined if joined.startswith("/") else "/" + joined


def join_upstream(route: Route, path: str) -> str:
    """``get_upstream_uri_v0`` of kong/router/utils.lua: the upstream path of a normalised request path."""
    base = route.base_path
    postfix = path[len(route.prefix) :]
    if base.endswith("/"):
        if not route.strip_path:
            return base + path[1:]
        if postfix == "":
            if base == "/":
                return "/"
            return base if path.endswith("/") else base[:-1]
        if postfix.startswith("/"):
            return base[:-1] + postfix
        return base + postfix
    if not route.strip_path:
        return base if path == "/" else base + path
    if postfix == "":
        return base + "/" if len(path) > 1 and path.endswith("/") else base
    if postfix.startswith("/"):
        return base + postfix
    return base + "/" + postfix


def match(config: GatewayConfig, raw_path: str) -> Match | None:
    """The route Kong picks for ``raw_path`` (no query string) and the upstream path, or None (404)."""
    path = normalize_path(raw_path)
    for route in config.routes:  # longest prefix first
        if path.startswith(route.prefix):
            return Match(route, join_upstream(route, path))
    return None
