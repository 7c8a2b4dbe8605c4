"""Verification keys from a JWKS endpoint (chat_shared.auth.JwksKeys), served over real HTTP by a tiny local
server: an unknown ``kid`` refetches (a rotated key works without a restart), at most once per
``min_refetch`` (garbage tokens cannot hammer user-service), and an unreachable endpoint keeps the keys
already known. Time is an injected clock."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from chat_shared.auth import JwksKeys, TokenVerifier, public_pem_to_jwk, sign_access_token, signing_key
from chat_shared.errors import Unauthorized
from chat_shared.revocation import Revocations
from chat_shared.testing.clock import ManualClock
from chat_shared.testing.tokens import TestKeys

TTL_S = 300.0
MIN_REFETCH_S = 10.0


@dataclass
class JwksServer:
    """Serves ``keys`` as a JWKS document (or ``status`` when it is not 200) and counts the fetches."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    fetches: int = 0
    url: str = ""

    def serve(self) -> HTTPServer:
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                body = json.dumps({"keys": jwks.keys}).encode()
                self.send_response(jwks.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
        return server


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    state = JwksServer()
    server = state.serve()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def key_a() -> TestKeys:
    return TestKeys(kid="key-a")


@pytest.fixture(scope="module")
def key_b() -> TestKeys:
    return TestKeys(kid="key-b")


def jwk(keys: TestKeys) -> dict[str, Any]:
    return public_pem_to_jwk(keys.public_pem, keys.kid, "RS256")


def verifier(jwks: JwksServer, clock: ManualClock) -> TokenVerifier:
    source = JwksKeys(jwks.url, ttl=TTL_S, min_refetch=MIN_REFETCH_S, clock=clock)
    return TokenVerifier(source, "RS256", "bigtech-chat", "bigtech-chat-api", revocations=Revocations(900))


async def refused(verify: TokenVerifier, token: str) -> bool:
    try:
        await verify.verify(token)
    except Unauthorized:
        return True
    return False


async def test_a_rotated_key_is_fetched_once_the_refetch_is_due(
    jwks: JwksServer, key_a: TestKeys, key_b: TestKeys
) -> None:
    clock = ManualClock()
    jwks.keys = [jwk(key_a)]
    verify = verifier(jwks, clock)
    assert (await verify.verify(key_a.token(7))).id == 7
    assert (await verify.verify(key_a.token(7))).id == 7
    assert jwks.fetches == 1, "a known kid is served from the cache"

    jwks.keys = [jwk(key_a), jwk(key_b)]  # user-service rotates: tokens signed with B appear
    clock.advance(MIN_REFETCH_S / 2)
    assert await refused(verify, key_b.token(8)), "B is unknown until the next refetch is due"
    assert jwks.fetches == 1
    clock.advance(MIN_REFETCH_S / 2 + 1)
    assert (await verify.verify(key_b.token(8))).id == 8
    assert jwks.fetches == 2
    assert (await verify.verify(key_a.token(7))).id == 7, "the old key keeps working"
    assert jwks.fetches == 2


async def test_unknown_kids_refetch_at_most_once_per_interval(jwks: JwksServer, key_a: TestKeys) -> None:
    clock = ManualClock()
    jwks.keys = [jwk(key_a)]
    verify = verifier(jwks, clock)
    await verify.verify(key_a.token(1))
    assert jwks.fetches == 1
    sign = signing_key(key_a.private_pem, "RS256")

    def garbage(i: int) -> str:
        return sign_access_token(
            sign,
            f"nobody-{i}",
            "RS256",
            user_id=1,
            username="x",
            issuer="bigtech-chat",
            audience="bigtech-chat-api",
            ttl_s=60,
            now=datetime.now(UTC),
            sid=None,
        )

    # A burst at one instant: one lookup is due at most, whatever the number of tokens.
    assert all(await asyncio.gather(*(refused(verify, garbage(i)) for i in range(20))))
    assert jwks.fetches == 1, "the last fetch was less than min_refetch ago"
    # A steady stream, one token a second for 50 s: a refetch after each 10 s without one (at 11, 22, 33, 44).
    for i in range(50):
        clock.advance(1)
        assert await refused(verify, garbage(i))
    assert jwks.fetches == 1 + 4


async def test_concurrent_lookups_of_a_new_kid_share_one_fetch(
    jwks: JwksServer, key_a: TestKeys, key_b: TestKeys
) -> None:
    clock = ManualClock()
    jwks.keys = [jwk(key_a), jwk(key_b)]
    verify = verifier(jwks, clock)
    users = await asyncio.gather(*(verify.verify(key_b.token(i)) for i in range(10)))
    assert [u.id for u in users] == list(range(10))
    assert jwks.fetches == 1


async def test_stale_keys_are_refetched_and_kept_when_the_endpoint_fails(
    jwks: JwksServer, key_a: TestKeys, key_b: TestKeys
) -> None:
    clock = ManualClock()
    jwks.keys = [jwk(key_a)]
    verify = verifier(jwks, clock)
    await verify.verify(key_a.token(1))
    clock.advance(TTL_S + 1)
    jwks.status = 503  # user-service is down when the cache goes stale
    assert (await verify.verify(key_a.token(1))).id == 1, "an outage of the JWKS must not log everyone out"
    assert jwks.fetches == 2
    jwks.status, jwks.keys = 200, [jwk(key_b)]  # back, and A has been retired
    clock.advance(TTL_S + 1)
    assert await refused(verify, key_a.token(1))
    assert (await verify.verify(key_b.token(2))).id == 2
    assert jwks.fetches == 3
