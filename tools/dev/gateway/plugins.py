"""The Kong plugins the dev gateway mirrors: correlation-id, cors, request-size-limiting, rate-limiting.

Each reads the plugin's ``config`` from kong.yml (a route's plugin replaces the global one of the same
name, see :mod:`.routing`) and behaves as Kong 3.x does; the prometheus plugin is not mirrored.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from .asgi import RawHeaders, header
from .routing import Route

Plugins = Mapping[str, Mapping[str, Any]]

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")  # same rule as chat_shared.tracing
_SIZE_UNITS = {"bytes": 1, "kilobytes": 1024, "megabytes": 1024 * 1024}
_ALL_METHODS = ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "TRACE", "CONNECT"]


# ------------------------------------------------------------------------------------ correlation-id


def request_id_header(plugins: Plugins) -> bytes:
    """The lower-case name of the correlation-id header, or ``b""`` without the plugin."""
    return str(plugins.get("correlation-id", {}).get("header_name", "")).lower().encode()


def request_id(headers: RawHeaders, plugins: Plugins) -> str | None:
    """The request's id: a well-formed incoming one is kept, otherwise a new one; None without the plugin."""
    conf = plugins.get("correlation-id")
    if conf is None:
        return None
    name = str(conf.get("header_name", "Kong-Request-ID")).lower().encode()
    incoming = header(headers, name)
    if incoming and _REQUEST_ID_RE.match(incoming):
        return incoming
    return str(uuid.uuid4()) if conf.get("generator", "uuid#counter") == "uuid" else uuid.uuid4().hex


# ------------------------------------------------------------------------------------ request-size-limiting


def payload_limit(plugins: Plugins) -> int | None:
    """The largest request body allowed, in bytes, or None without the plugin."""
    size = plugins.get("request-size-limiting")
    if size is None:
        return None
    return int(size["allowed_payload_size"] * _SIZE_UNITS[size.get("size_unit", "megabytes")])


def declared_too_large(headers: RawHeaders, limit: int | None) -> bool:
    """Whether the request's ``Content-Length`` already exceeds ``limit``."""
    length = header(headers, b"content-length")
    return limit is not None and length is not None and length.isdigit() and int(length) > limit


# ------------------------------------------------------------------------------------ rate-limiting


class RateLimiter:
    """Kong's rate-limiting with ``policy: local``: fixed windows per (route, client address, period)."""

    PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.counters: dict[tuple[str, str, str, int], int] = {}
        self._last_sweep = 0.0

    def hit(self, route: Route, conf: Mapping[str, Any], client: str) -> tuple[RawHeaders, int | None]:
        """Count one request; return the headers to add and, when over a limit, the seconds to wait."""
        now = self.clock()
        self._sweep(now)
        headers: RawHeaders = []
        retry_after: int | None = None
        lowest: tuple[int, int, int] | None = None  # (remaining, limit, reset)
        for period, seconds in self.PERIODS.items():
            limit = conf.get(period)
            if not limit:
                continue
            window = int(now // seconds)
            key = (route.name, client, period, window)
            used = self.counters.get(key, 0)
            reset = max(1, math.ceil((window + 1) * seconds - now))
            if used >= limit:
                retry_after = max(retry_after or 0, reset)
            else:
                self.counters[key] = used = used + 1
            remaining = max(0, int(limit) - used)
            headers += [
                (f"x-ratelimit-limit-{period}".encode(), str(limit).encode()),
                (f"x-ratelimit-remaining-{period}".encode(), str(remaining).encode()),
            ]
            if lowest is None or remaining < lowest[0]:
                lowest = (remaining, int(limit), reset)
        if lowest is not None:
            headers += [
                (b"ratelimit-limit", str(lowest[1]).encode()),
                (b"ratelimit-remaining", str(lowest[0]).encode()),
                (b"ratelimit-reset", str(lowest[2]).encode()),
            ]
        if retry_after is not None:
            headers.append((b"retry-after", str(retry_after).encode()))
        if conf.get("hide_client_headers"):
            headers = [h for h in headers if h[0] == b"retry-after"]
        return headers, retry_after

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < 60:
            return
        self._last_sweep = now
        self.counters = {k: v for k, v in self.counters.items() if (k[3] + 1) * self.PERIODS[k[2]] > now}


# ------------------------------------------------------------------------------------ cors


def is_preflight(conf: Mapping[str, Any] | None, method: str, origin: str | None) -> bool:
    """Whether the gateway answers this request itself as a CORS preflight."""
    return conf is not None and method == "OPTIONS" and bool(origin) and not conf.get("preflight_continue")


def cors_headers(
    conf: Mapping[str, Any], origin: str | None, preflight: bool, requested_headers: str | None = None
) -> RawHeaders:
    """The headers Kong's cors plugin adds (to a preflight answer, or to a proxied response)."""
    origins = list(conf.get("origins") or ["*"])
    headers: RawHeaders = []
    if "*" in origins:
        headers.append((b"access-control-allow-origin", b"*"))
    else:
        headers.append((b"vary", b"Origin"))
        if origin and any(origin == o or (_is_regex(o) and re.fullmatch(o, origin)) for o in origins):
            headers.append((b"access-control-allow-origin", origin.encode("latin-1")))
    if conf.get("credentials"):
        headers.append((b"access-control-allow-credentials", b"true"))
    if preflight:
        methods = conf.get("methods") or _ALL_METHODS
        allowed = ",".join(conf["headers"]) if conf.get("headers") else requested_headers
        headers.append((b"access-control-allow-methods", ",".join(methods).encode()))
        if allowed:
            headers.append((b"access-control-allow-headers", allowed.encode("latin-1")))
        if conf.get("max_age") is not None:
            headers.append((b"access-control-max-age", str(conf["max_age"]).encode()))
    elif conf.get("exposed_headers"):
        headers.append((b"access-control-expose-headers", ",".join(conf["exposed_headers"]).encode()))
    return headers


def _is_regex(origin: str) -> bool:
    return any(c in origin for c in "^$*+?[]()|\\")
