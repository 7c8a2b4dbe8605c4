"""The address login throttling counts is the one the gateway reports, never one a client writes in
``X-Forwarded-For`` (docs/gateway.md "Client addresses"): only the gateway's own address is believed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import ValidationError

from app.core.state import State
from chat_shared.testing.fixtures import StartedApp

GATEWAY = "127.0.0.1"  # the default FORWARDED_ALLOW_IPS: the dev gateway's loopback address


@asynccontextmanager
async def peer(app: StartedApp[State], address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def guess(client: httpx.AsyncClient, n: int, forwarded_for: str) -> httpx.Response:
    return await client.post(
        "/auth/login",
        data={"username": f"nobody{n}@example.com", "password": "bad-guess-1"},
        headers={"X-Forwarded-For": forwarded_for},
    )


@pytest.fixture
def address_limit(app: StartedApp[State], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(app.state.settings, "login_max_failures_per_address", 3)
    return 3


async def test_a_forged_header_from_an_untrusted_peer_gets_no_fresh_counter(
    app: StartedApp[State], address_limit: int
) -> None:
    async with peer(app, "198.51.100.70") as client:
        for n in range(address_limit):
            assert (await guess(client, n, f"192.0.2.{n}")).status_code == 401
        refused = await guess(client, 99, "192.0.2.99")
    assert refused.status_code == 429 and "retry-after" in refused.headers


async def test_behind_the_gateway_the_address_it_appends_is_counted(app: StartedApp[State], address_limit: int) -> None:
    async with peer(app, GATEWAY) as gateway:
        # What the client sent stays left of the address the gateway appends, and is never counted.
        for n in range(address_limit):
            assert (await guess(gateway, n, f"192.0.2.{n}, 198.51.100.71")).status_code == 401
        assert (await guess(gateway, 99, "192.0.2.99, 198.51.100.71")).status_code == 429
        # Another client behind the same gateway has its own counter, and the gateway's address none.
        assert (await guess(gateway, 100, "198.51.100.72")).status_code == 401


@pytest.mark.parametrize("value", ["10.0.0.1/8", "kong", "10.0.0.300"])
def test_a_mistyped_trusted_peer_stops_start_up(make_settings: Callable[..., object], value: str) -> None:
    # uvicorn alone would read it as a host name that never matches, and believe nobody without a word.
    with pytest.raises(ValidationError, match="forwarded_allow_ips"):
        make_settings(forwarded_allow_ips=value)
