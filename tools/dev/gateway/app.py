"""The gateway as an ASGI application: route, run the plugins in Kong's order, proxy, log one line."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from . import plugins as kong
from .asgi import RawHeaders, Receive, Scope, Send, header
from .proxy import create_client, forward, read_body, timeout, upstream_headers
from .routing import GatewayConfig, Match, match
from .static import StaticSite

#: Paths Kong owns: never answered by the web client's files (an unknown API path stays Kong's 404).
API_PREFIX = "/api"


@dataclass
class Gateway:
    """A small ASGI reverse proxy applying a :class:`GatewayConfig`.

    ``hosts`` rewrites kong.yml's upstream hosts; a value listing several ``host:port`` targets (comma
    separated) is balanced round robin, a target refusing the connection skipped for the next (as Kong's
    upstream with several targets and passive health checks does).
    """

    config: GatewayConfig
    hosts: Mapping[str, str]
    rate_limit: bool = True
    log_requests: bool = True
    client: httpx.AsyncClient | None = None
    #: The web client's built files, served for GET/HEAD outside /api (as nginx does behind Kong).
    static: StaticSite | None = None
    limiter: kong.RateLimiter = field(default_factory=kong.RateLimiter)
    #: Requests per upstream so far: where the next one starts in the round robin.
    turns: dict[str, int] = field(default_factory=dict)

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
            self.client = create_client()

    async def close(self) -> None:
        """Close the pooled client."""
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers: RawHeaders = list(scope.get("headers") or ())
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        found = match(self.config, raw_path)
        plugins = found.route.plugins if found else {}
        # Kong runs no plugin for an unmatched path; the id is still echoed here to help debugging.
        request_id = kong.request_id(headers, plugins if found else self.config.plugins)
        extra: RawHeaders = []
        if request_id:
            extra.append((b"x-request-id", request_id.encode()))

        def logged(status: int) -> None:
            self._log(scope, found, status, started, request_id)

        async def respond(status: int, detail: str | None, more: Iterable[tuple[bytes, bytes]] = ()) -> None:
            body = json.dumps({"detail": detail}).encode() if detail is not None else b""
            hdrs = [*extra, *more, (b"content-length", str(len(body)).encode())]
            if detail is not None:
                hdrs.append((b"content-type", b"application/json"))
            await send({"type": "http.response.start", "status": status, "headers": hdrs})
            await send({"type": "http.response.body", "body": body})
            logged(status)

        if found is None and self.static is not None and self._is_site_request(scope, raw_path):
            await self._serve_site(scope, receive, send, logged)
            return
        if found is None:
            await respond(404, "no Route matched with those values")  # Kong's words
            return
        method = scope["method"]
        origin = header(headers, b"origin")
        cors = plugins.get("cors")
        if cors is not None and kong.is_preflight(cors, method, origin):
            requested = header(headers, b"access-control-request-headers")
            await respond(200, None, kong.cors_headers(cors, origin, True, requested))
            return
        if cors is not None and origin:
            extra += kong.cors_headers(cors, origin, False)
        limit = kong.payload_limit(plugins)
        if kong.declared_too_large(headers, limit):
            await respond(413, "Request size limit exceeded")
            return
        client_addr = (scope.get("client") or ("unknown", 0))[0]
        rate_limiting = plugins.get("rate-limiting")
        if rate_limiting is not None and self.rate_limit:
            rl_headers, retry_after = self.limiter.hit(found.route, rate_limiting, client_addr)
            extra += rl_headers
            if retry_after is not None:
                await respond(429, "API rate limit exceeded")
                return
        body = await read_body(receive, limit)
        if body is None:
            await respond(413, "Request size limit exceeded")
            return
        rid_header = kong.request_id_header(plugins)
        to_upstream = upstream_headers(scope, headers, found, client_addr, rid_header, request_id)
        assert self.client is not None, "the gateway's lifespan did not run"
        attempts = [
            self.client.build_request(
                method, found.url(self.hosts, query, target), headers=to_upstream, content=body, timeout=timeout(found)
            )
            for target in self._balanced(found)
        ]
        failed = await forward(self.client, attempts, found, receive, send, extra, logged)
        if failed is not None:
            await respond(*failed)

    @staticmethod
    def _is_site_request(scope: Scope, raw_path: str) -> bool:
        under_api = raw_path == API_PREFIX or raw_path.startswith(API_PREFIX + "/")
        return scope["method"] in ("GET", "HEAD") and not under_api

    async def _serve_site(self, scope: Scope, receive: Receive, send: Send, logged: Callable[[int], None]) -> None:
        assert self.static is not None
        status = 500

        async def noting_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.static(scope, receive, noting_status)
        logged(status)

    def _balanced(self, found: Match) -> list[str]:
        """The route's targets in round-robin order: each request starts one further along the list."""
        targets = found.targets(self.hosts)
        turn = self.turns.get(found.route.service, 0)
        self.turns[found.route.service] = turn + 1
        start = turn % len(targets)
        return targets[start:] + targets[:start]

    def _log(self, scope: Scope, found: Match | None, status: int, started: float, request_id: str | None) -> None:
        if not self.log_requests:
            return
        line = {
            "event": "request",
            "level": "info",
            "method": scope["method"],
            # The path without its query: a query may carry a stream ticket (CONTRACT §6), never logged.
            "path": scope["path"],
            "route": found.route.name if found else None,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "request_id": request_id,
        }
        print(json.dumps(line), flush=True)
