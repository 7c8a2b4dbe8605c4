"""tools/dev/gateway as a running proxy: rewriting, headers, unbuffered SSE, limits (real sockets)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from chat_shared.testing.broker import free_port
from chat_shared.testing.clock import ManualClock
from chat_shared.testing.waiting import eventually

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tools/dev is the checkout's, not installed
from tools.dev.gateway.app import Gateway
from tools.dev.gateway.plugins import RateLimiter
from tools.dev.gateway.routing import load_config

KONG = """
_format_version: "3.0"
services:
  - name: svc
    url: http://svc-host:1/svc
    routes: [{name: svc, paths: [/api/svc], strip_path: true}]
  - name: limited
    url: http://svc-host:1/svc
    routes:
      - name: limited
        paths: [/api/limited]
        strip_path: true
        plugins: [{name: rate-limiting, config: {minute: 3, limit_by: ip, policy: local}}]
  - name: stream
    url: http://svc-host:1/stream
    read_timeout: 1000
    routes: [{name: stream, paths: [/api/stream], strip_path: true, response_buffering: false}]
plugins:
  - {name: correlation-id, config: {header_name: X-Request-ID, generator: uuid, echo_downstream: true}}
  - {name: cors, config: {origins: ["http://localhost:3000"], methods: [GET, POST], headers: [Authorization],
                          exposed_headers: [X-Request-ID], max_age: 60}}
  - {name: request-size-limiting, config: {allowed_payload_size: 1, size_unit: kilobytes}}
"""


class Upstream:
    """A tiny service: echoes requests under /svc, streams two SSE events under /stream."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.disconnected = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/stream":
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}
            )
            await send({"type": "http.response.body", "body": b"id: 1\nevent: one\ndata: {}\n\n", "more_body": True})
            await self.release.wait()
            await send({"type": "http.response.body", "body": b"id: 2\nevent: two\ndata: {}\n\n", "more_body": True})
            while (await receive())["type"] != "http.disconnect":
                pass
            self.disconnected.set()
            return
        payload = json.dumps(
            {
                "path": scope["path"],
                "query": scope["query_string"].decode(),
                "body": len(body),
                "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})


# The rate limiter's time: mid-window (30 s before a minute ends) until a test moves it.
CLOCK = ManualClock(999_990.0)


async def _serve(app: Any, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    # proxy_headers off, as `python -m tools.dev.gateway` runs it: the gateway sees the real peer, not X-Forwarded-For
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", proxy_headers=False)
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, "the server to start")
    return server, task


@pytest.fixture(scope="module")
async def setup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, Upstream]]:
    kong = tmp_path_factory.mktemp("kong") / "kong.yml"
    kong.write_text(KONG)
    upstream = Upstream()
    up_port, gw_port = free_port(), free_port()
    app = Gateway(
        load_config(kong), {"svc-host": f"127.0.0.1:{up_port}"}, log_requests=False, limiter=RateLimiter(CLOCK)
    )
    servers = [await _serve(upstream, up_port), await _serve(app, gw_port)]
    try:
        yield f"http://127.0.0.1:{gw_port}", upstream
    finally:
        for server, task in reversed(servers):
            server.should_exit = True
            await asyncio.wait_for(task, timeout=10)


async def test_path_query_and_headers_reach_the_upstream(setup: tuple[str, Upstream]) -> None:
    base, _ = setup
    async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
        r = await client.get("/api/svc/a/b?x=1&y=2", headers={"X-Request-ID": "keep-me", "X-Forwarded-For": "10.0.0.1"})
    assert r.status_code == 200
    seen = r.json()
    assert seen["path"] == "/svc/a/b" and seen["query"] == "x=1&y=2"
    assert seen["headers"]["x-request-id"] == "keep-me" and r.headers["x-request-id"] == "keep-me"
    assert seen["headers"]["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"
    assert seen["headers"]["x-forwarded-prefix"] == "/api/svc"
    assert seen["headers"]["host"].startswith("127.0.0.1:")


async def test_invalid_request_id_is_replaced(setup: tuple[str, Upstream]) -> None:
    base, _ = setup
    async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
        r = await client.get("/api/svc/x", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces"
    assert r.json()["headers"]["x-request-id"] == r.headers["x-request-id"]


async def test_unknown_path_is_404_and_not_proxied(setup: tuple[str, Upstream]) -> None:
    base, _ = setup
    async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
        for path in ("/api/nothing", "/health", "/api/svc/../../health"):
            r = await client.get(path)
            assert r.status_code == 404, path
            assert r.json() == {"detail": "no Route matched with those values"}
            assert r.headers["x-request-id"]


async def test_cors_preflight(setup: tuple[str, Upstream]) -> None:
    base, _ = setup
    async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
        r = await client.options(
            "/api/svc/x", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}
        )
        assert r.status_code == 200 and r.content == b""
        assert r.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert r.headers["access-control-allow-methods"] == "GET,POST"
        assert r.headers["access-control-max-age"] == "60"
        r = await client.get("/api/svc/x", headers={"Origin": "http://localhost:3000"})
        assert r.headers["access-control-expose-headers"] == "X-Request-ID"


async def test_request_size_limit(setup: tuple[str, Upstream]) -> None:
    base, _ = setup

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * 600

    async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
        assert (await client.post("/api/svc/x", content=b"x" * 1024)).status_code == 200
        assert (await client.post("/api/svc/x", content=b"x" * 1025)).status_code == 413
        assert (await client.post("/api/svc/x", content=chunks())).status_code == 413


async def test_rate_limit_per_route(setup: tuple[str, Upstream]) -> None:
    base, _ = setup
    async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
        statuses = [(await client.get("/api/limited/x")).status_code for _ in range(3)]
        r = await client.get("/api/limited/x")
        other = await client.get("/api/svc/x")
        assert statuses == [200, 200, 200]
        assert r.status_code == 429 and r.headers["retry-after"] == "30", "the rest of the minute"
        assert r.headers["x-ratelimit-remaining-minute"] == "0"
        assert other.status_code == 200, "limits are counted per route"
        CLOCK.advance(60)
        assert (await client.get("/api/limited/x")).status_code == 200, "a new minute, a new count"


async def test_sse_flows_event_by_event_and_closes_upstream(setup: tuple[str, Upstream]) -> None:
    base, upstream = setup
    async with (
        httpx.AsyncClient(base_url=base, trust_env=False) as client,
        client.stream("GET", "/api/stream", timeout=httpx.Timeout(5.0)) as r,
    ):
        assert r.headers["content-type"] == "text/event-stream"
        lines = r.aiter_lines()
        first = [await asyncio.wait_for(anext(lines), 5) for _ in range(4)]
        assert first[:2] == ["id: 1", "event: one"], "the first event arrives while the upstream still holds"
        upstream.release.set()
        second = [await asyncio.wait_for(anext(lines), 5) for _ in range(2)]
        assert second == ["id: 2", "event: two"]
    await asyncio.wait_for(upstream.disconnected.wait(), 5)  # closing the client closed the upstream stream


async def test_the_access_line_never_shows_the_query(
    setup: tuple[str, Upstream], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stream ticket travels in the query (CONTRACT §6): the gateway's line names the path only."""
    kong = tmp_path / "kong.yml"
    kong.write_text(KONG)
    base, _ = setup
    upstream_port = int(base.rsplit(":", 1)[1])  # any listener will do: only the log line is looked at
    gateway = Gateway(load_config(kong), {"svc-host": f"127.0.0.1:{upstream_port}"})
    port = free_port()
    server, task = await _serve(gateway, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
            await client.get("/api/stream", params={"ticket": "SECRET-ticket-value"})
            await client.get("/api/svc/x", params={"ticket": "SECRET-ticket-value", "a": "1"})
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(line["path"], line["route"]) for line in lines] == [("/api/stream", "stream"), ("/api/svc/x", "svc")]
    assert "SECRET" not in json.dumps(lines)
