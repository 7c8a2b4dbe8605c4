"""The no-Docker gateway: routes ``/api/*`` the way Kong does, by reading Kong's own declarative file.

``infrastructure/docker/kong/kong.yml`` is the single source of the routing table: this module reads its
``services[].url`` and ``routes[].paths`` / ``strip_path`` and the plugins it mirrors (correlation-id,
cors, request-size-limiting, rate-limiting), so the compose stack and ``make dev`` cannot disagree.
``tests/gateway/test_routes.py`` imports :func:`load_config` and :func:`match` from here, so the
route-coverage test and this gateway share one implementation.

    python tools/dev/gateway.py --port 8000 --upstream user-service=127.0.0.1:8005 ...

Kong semantics reproduced (Kong 3.x, ``path_handling: v0``, plain prefix paths):
- the request path is normalised first (percent-escapes of unreserved characters decoded, dot segments
  resolved, repeated slashes merged), then the longest matching route prefix wins (a plain string prefix,
  as in Kong: ``/api/streamx`` matches ``/api/stream``);
- ``strip_path`` removes the matched prefix and joins the rest to the service path exactly as
  ``kong/router/utils.lua:get_upstream_uri_v0`` does;
- plugins on a route replace the global plugin of the same name (route > service > global);
- no route → 404 and no plugin runs, so ``/api/health`` and ``/.well-known/jwks.json`` are never proxied.
Differences: error bodies are ``{"detail": ...}`` (CONTRACT §2) where Kong says ``{"message": ...}``;
no prometheus plugin (each service serves its own ``/metrics``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

REPO = Path(__file__).resolve().parents[2]
KONG_YML = REPO / "infrastructure/docker/kong/kong.yml"

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# ------------------------------------------------------------------------------------------ routing


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

    def url(self, hosts: Mapping[str, str], query: str = "") -> str:
        """The full upstream URL, the compose host rewritten through ``hosts`` when it is there."""
        r = self.route
        netloc = hosts.get(r.netloc) or hosts.get(r.host) or r.netloc
        return f"{r.scheme}://{netloc}{self.upstream_path}" + (f"?{query}" if query else "")


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


# ------------------------------------------------------------------------------------------ plugins

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")  # same rule as chat_shared.tracing
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    }
)
_SIZE_UNITS = {"bytes": 1, "kilobytes": 1024, "megabytes": 1024 * 1024}


class RateLimiter:
    """Kong's rate-limiting with ``policy: local``: fixed windows per (route, client address, period)."""

    PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.counters: dict[tuple[str, str, str, int], int] = {}
        self._last_sweep = 0.0

    def hit(self, route: Route, conf: Mapping[str, Any], client: str) -> tuple[list[tuple[bytes, bytes]], int | None]:
        """Count one request; return the headers to add and, when over a limit, the seconds to wait."""
        now = self.clock()
        self._sweep(now)
        headers: list[tuple[bytes, bytes]] = []
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


def cors_headers(
    conf: Mapping[str, Any], origin: str | None, preflight: bool, requested_headers: str | None = None
) -> list[tuple[bytes, bytes]]:
    """The headers Kong's cors plugin adds (to a preflight answer, or to a proxied response)."""
    origins = list(conf.get("origins") or ["*"])
    headers: list[tuple[bytes, bytes]] = []
    if "*" in origins:
        headers.append((b"access-control-allow-origin", b"*"))
    else:
        headers.append((b"vary", b"Origin"))
        if origin and any(origin == o or (_is_regex(o) and re.fullmatch(o, origin)) for o in origins):
            headers.append((b"access-control-allow-origin", origin.encode("latin-1")))
    if conf.get("credentials"):
        headers.append((b"access-control-allow-credentials", b"true"))
    if preflight:
        methods = conf.get("methods") or [
            "GET",
            "HEAD",
            "PUT",
            "PATCH",
            "POST",
            "DELETE",
            "OPTIONS",
            "TRACE",
            "CONNECT",
        ]
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


# ------------------------------------------------------------------------------------------ the app


@dataclass
class Gateway:
    """A small ASGI reverse proxy applying a :class:`GatewayConfig`."""

    config: GatewayConfig
    hosts: Mapping[str, str]
    rate_limit: bool = True
    log_requests: bool = True
    client: httpx.AsyncClient | None = None
    limiter: RateLimiter = field(default_factory=RateLimiter)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def open(self) -> None:
        """Create the one pooled client every request shares."""
        if self.client is None:
            self.client = httpx.AsyncClient(
                trust_env=False,
                follow_redirects=False,
                limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=30),
            )

    async def close(self) -> None:
        """Close the pooled client."""
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or ())
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        found = match(self.config, raw_path)
        plugins = found.route.plugins if found else {}
        # Kong runs no plugin for an unmatched path; the id is still echoed here to help debugging.
        request_id = self._request_id(headers, plugins if found else self.config.plugins)
        extra: list[tuple[bytes, bytes]] = []
        if request_id:
            extra.append((b"x-request-id", request_id.encode()))

        async def respond(status: int, detail: str | None, more: Iterable[tuple[bytes, bytes]] = ()) -> None:
            body = json.dumps({"detail": detail}).encode() if detail is not None else b""
            hdrs = [*extra, *more, (b"content-length", str(len(body)).encode())]
            if detail is not None:
                hdrs.append((b"content-type", b"application/json"))
            await send({"type": "http.response.start", "status": status, "headers": hdrs})
            await send({"type": "http.response.body", "body": body})
            self._log(scope, found, status, started, request_id)

        if found is None:
            await respond(404, "no Route matched with those values")  # Kong's words
            return
        method = scope["method"]
        origin = _get(headers, b"origin")
        cors = plugins.get("cors")
        if cors is not None and method == "OPTIONS" and origin and not cors.get("preflight_continue"):
            await respond(200, None, cors_headers(cors, origin, True, _get(headers, b"access-control-request-headers")))
            return
        if cors is not None and origin:
            extra += cors_headers(cors, origin, False)
        size = plugins.get("request-size-limiting")
        limit = int(size["allowed_payload_size"] * _SIZE_UNITS[size.get("size_unit", "megabytes")]) if size else None
        length = _get(headers, b"content-length")
        if limit is not None and length is not None and length.isdigit() and int(length) > limit:
            await respond(413, "Request size limit exceeded")
            return
        client_addr = (scope.get("client") or ("unknown", 0))[0]
        rl = plugins.get("rate-limiting")
        if rl is not None and self.rate_limit:
            rl_headers, retry_after = self.limiter.hit(found.route, rl, client_addr)
            extra += rl_headers
            if retry_after is not None:
                await respond(429, "API rate limit exceeded")
                return
        body = await _read_body(receive, limit)
        if body is None:
            await respond(413, "Request size limit exceeded")
            return
        upstream_headers = self._upstream_headers(scope, headers, found, request_id, client_addr, plugins)
        await self._proxy(
            scope, receive, send, found, query, body, upstream_headers, extra, respond, started, request_id
        )

    @staticmethod
    def _request_id(headers: list[tuple[bytes, bytes]], plugins: Mapping[str, Mapping[str, Any]]) -> str | None:
        conf = plugins.get("correlation-id")
        if conf is None:
            return None
        name = str(conf.get("header_name", "Kong-Request-ID")).lower().encode()
        incoming = _get(headers, name)
        if incoming and _REQUEST_ID_RE.match(incoming):
            return incoming
        return str(uuid.uuid4()) if conf.get("generator", "uuid#counter") == "uuid" else uuid.uuid4().hex

    def _upstream_headers(
        self,
        scope: Scope,
        headers: list[tuple[bytes, bytes]],
        found: Match,
        request_id: str | None,
        client_addr: str,
        plugins: Mapping[str, Mapping[str, Any]],
    ) -> list[tuple[bytes, bytes]]:
        connection_tokens = {t.strip().lower().encode() for t in (_get(headers, b"connection") or "").split(",")}
        rid_name = str(plugins.get("correlation-id", {}).get("header_name", "")).lower().encode()
        drop = (
            _HOP_BY_HOP
            | connection_tokens
            | {
                b"host",
                b"content-length",
                b"x-real-ip",
                rid_name,
                b"x-forwarded-proto",
                b"x-forwarded-host",
                b"x-forwarded-port",
                b"x-forwarded-path",
                b"x-forwarded-prefix",
            }
        )
        out = [(k, v) for k, v in headers if k not in drop and k != b"x-forwarded-for"]
        forwarded_for = _get(headers, b"x-forwarded-for")
        server = scope.get("server") or ("127.0.0.1", 8000)
        host = _get(headers, b"host") or f"{server[0]}:{server[1]}"
        out += [
            (b"x-forwarded-for", f"{forwarded_for}, {client_addr}".encode() if forwarded_for else client_addr.encode()),
            (b"x-real-ip", client_addr.encode()),
            (b"x-forwarded-proto", scope.get("scheme", "http").encode()),
            (b"x-forwarded-host", host.split(":")[0].encode("latin-1")),
            (b"x-forwarded-port", str(server[1]).encode()),
            (b"x-forwarded-path", scope["path"].encode("utf-8", "replace")),
        ]
        if found.route.strip_path:
            out.append((b"x-forwarded-prefix", found.route.prefix.encode()))
        if request_id and rid_name:
            out.append((rid_name, request_id.encode()))
        return out

    async def _proxy(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        found: Match,
        query: str,
        body: bytes,
        upstream_headers: list[tuple[bytes, bytes]],
        extra: list[tuple[bytes, bytes]],
        respond: Callable[..., Awaitable[None]],
        started: float,
        request_id: str | None,
    ) -> None:
        assert self.client is not None, "the gateway's lifespan did not run"
        route = found.route
        timeout = httpx.Timeout(
            connect=route.connect_timeout,
            write=route.write_timeout,
            pool=route.connect_timeout,
            read=None if not route.response_buffering else route.read_timeout,
        )
        request = self.client.build_request(
            scope["method"], found.url(self.hosts, query), headers=upstream_headers, content=body, timeout=timeout
        )
        try:
            upstream = await self.client.send(request, stream=True)
        except httpx.TimeoutException:
            await respond(504, "The upstream server is timing out")
            return
        except httpx.HTTPError:
            await respond(502, f"{route.netloc.split(':')[0]} is not reachable (not running?)")
            return
        try:
            names = {k for k, _ in extra}
            out = [(k, v) for k, v in upstream.headers.raw if k.lower() not in _HOP_BY_HOP and k.lower() not in names]
            await send({"type": "http.response.start", "status": upstream.status_code, "headers": out + extra})
            self._log(scope, found, upstream.status_code, started, request_id)
            if "content-length" in upstream.headers:
                async for chunk in upstream.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            else:  # a stream (SSE, chunked): forward chunk by chunk, stop when the client goes away
                await _until_disconnect(receive, _pump(upstream, send))
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (httpx.HTTPError, OSError):
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await upstream.aclose()

    def _log(self, scope: Scope, found: Match | None, status: int, started: float, request_id: str | None) -> None:
        if not self.log_requests:
            return
        line = {
            "event": "request",
            "level": "info",
            "method": scope["method"],
            "path": scope["path"],
            "route": found.route.name if found else None,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "request_id": request_id,
        }
        print(json.dumps(line), flush=True)


def _get(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


async def _read_body(receive: Receive, limit: int | None) -> bytes | None:
    """The whole request body, or None once it exceeds ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _pump(upstream: httpx.Response, send: Send) -> None:
    async for chunk in upstream.aiter_raw():
        await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _until_disconnect(receive: Receive, work: Awaitable[None]) -> None:
    """Run ``work`` until it ends or the client disconnects, whichever comes first."""

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    tasks = [asyncio.ensure_future(work), asyncio.ensure_future(watch())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is tasks[0]:
                task.result()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


# ------------------------------------------------------------------------------------------ CLI


def parse_hosts(items: Iterable[str]) -> dict[str, str]:
    """``["user-service=127.0.0.1:8005"]`` → ``{"user-service": "127.0.0.1:8005"}``."""
    hosts = {}
    for item in items:
        name, sep, target = item.partition("=")
        if not sep or not name or not target:
            raise argparse.ArgumentTypeError(f"--upstream expects NAME=HOST:PORT, got {item!r}")
        hosts[name] = target
    return hosts


def main(argv: list[str] | None = None) -> None:
    """Run the gateway with uvicorn (uvloop + httptools)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--kong-yml", type=Path, default=KONG_YML)
    parser.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="NAME=HOST:PORT",
        help="rewrite a kong.yml upstream host (e.g. user-service=127.0.0.1:8005); repeatable",
    )
    parser.add_argument("--no-rate-limit", action="store_true", help="skip kong.yml's rate-limiting plugins")
    parser.add_argument("--quiet", action="store_true", help="no access log line per request")
    args = parser.parse_args(argv)

    import uvicorn

    app = Gateway(
        load_config(args.kong_yml),
        parse_hosts(args.upstream),
        rate_limit=not args.no_rate_limit,
        log_requests=not args.quiet,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        server_header=False,
        date_header=False,
        proxy_headers=False,
        log_level="warning",
        timeout_graceful_shutdown=3,
    )


if __name__ == "__main__":
    main()
