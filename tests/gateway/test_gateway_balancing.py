"""tools/dev/gateway with several targets for one upstream: round robin, a refusing target skipped, and a
target dropping the connection mid-request retried only for idempotent methods (real sockets)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from test_gateway_app import KONG, Upstream, _serve

from chat_shared.testing.broker import free_port
from tools.dev.gateway.app import Gateway
from tools.dev.gateway.routing import load_config


@contextlib.asynccontextmanager
async def running(kong: Path, targets: list[int], upstreams: dict[int, Upstream]) -> AsyncIterator[httpx.AsyncClient]:
    """The upstreams on their ports and a gateway balancing ``svc-host`` over ``targets``; a client of it."""
    hosts = {"svc-host": ",".join(f"127.0.0.1:{port}" for port in targets)}
    gateway_port = free_port()
    servers = [await _serve(app, port) for port, app in upstreams.items()]
    servers.append(await _serve(Gateway(load_config(kong), hosts, log_requests=False), gateway_port))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway_port}", trust_env=False) as client:
            yield client
    finally:
        for server, task in reversed(servers):
            server.should_exit = True
            await asyncio.wait_for(task, timeout=10)


@pytest.fixture
def kong(tmp_path: Path) -> Path:
    path = tmp_path / "kong.yml"
    path.write_text(KONG)
    return path


async def _upstream_port(client: httpx.AsyncClient, method: str = "GET") -> int:
    r = await client.request(method, "/api/svc/x")
    assert r.status_code == 200, r.text
    return int(r.json()["headers"]["host"].rsplit(":", 1)[1])


async def test_requests_alternate_between_targets(kong: Path) -> None:
    a, b = free_port(), free_port()
    async with running(kong, [a, b], {a: Upstream(), b: Upstream()}) as client:
        seen = [await _upstream_port(client) for _ in range(6)]
    assert seen == [a, b, a, b, a, b]


async def test_a_refusing_target_is_skipped_for_every_method(kong: Path) -> None:
    up, down = free_port(), free_port()  # nothing listens on ``down``: its connections are refused
    async with running(kong, [down, up], {up: Upstream()}) as client:
        seen = [await _upstream_port(client, method) for method in ("GET", "POST", "GET", "POST")]
    assert seen == [up] * 4


async def test_every_target_refusing_is_502(kong: Path) -> None:
    async with running(kong, [free_port(), free_port()], {}) as client:
        r = await client.post("/api/svc/x")
    assert r.status_code == 502
    assert r.json() == {"detail": "svc-host is not reachable (not running?)"}


async def test_a_dropped_connection_is_retried_only_when_idempotent(kong: Path) -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the request reached the target, which then goes away
        writer.close()

    dropping = await asyncio.start_server(drop, "127.0.0.1", 0)
    drop_port = dropping.sockets[0].getsockname()[1]
    up = free_port()
    try:
        async with running(kong, [drop_port, up], {up: Upstream()}) as client:
            assert await _upstream_port(client, "GET") == up  # starts at the dropping target, retried
            await _upstream_port(client, "GET")  # the round robin's next turn starts at ``up``
            r = await client.post("/api/svc/x")  # starts at the dropping target again: not retried
    finally:
        dropping.close()
    assert r.status_code == 502
    assert r.json() == {"detail": "The upstream closed the connection without answering"}
