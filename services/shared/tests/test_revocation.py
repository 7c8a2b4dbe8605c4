"""The revocation state every process keeps (chat_shared.revocation): what it kills, how long it remembers,
what the token verifier refuses, and the Redis feed a process started later reads, on the real Redis with
an injected clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from chat_shared.auth import StaticKeys, TokenVerifier, public_pem_to_jwk
from chat_shared.errors import Unauthorized
from chat_shared.events.user import SessionsRevoked
from chat_shared.revocation import Revocation, RevocationFeed, RevocationMirror, Revocations
from chat_shared.testing.clock import ManualClock
from chat_shared.testing.tokens import TestKeys

T0 = 1_800_000_000.0
TTL = 900.0


def revocation(user_id: int, sids: tuple[str, ...] = (), not_before: int | None = None, at: float = T0) -> Revocation:
    return Revocation(user_id=user_id, session_ids=frozenset(sids), not_before=not_before, revoked_at=at)


async def test_a_revoked_session_is_dead_until_its_tokens_have_expired() -> None:
    clock = ManualClock(T0)
    state = Revocations(TTL, clock)
    await state.apply(revocation(7, ("s1",)))
    assert state.is_revoked(7, "s1", int(T0) - 10)
    assert not state.is_revoked(7, "s2", int(T0) - 10), "the user's other sessions live"
    assert not state.is_revoked(7, None, int(T0) - 10)
    clock.now = T0 + TTL - 1
    state.prune()
    assert state.is_revoked(7, "s1", int(T0) - 10)
    clock.now = T0 + TTL + 1
    state.prune()
    assert len(state) == 0, "every token it could kill has expired"


async def test_not_before_kills_tokens_issued_before_that_second() -> None:
    clock = ManualClock(T0)
    state = Revocations(TTL, clock)
    await state.apply(revocation(7, not_before=int(T0)))
    assert state.is_revoked(7, "any", int(T0) - 1)
    assert not state.is_revoked(7, "any", int(T0)), "a token of that second, after the change, lives"
    assert not state.is_revoked(8, "any", int(T0) - 1), "other users are untouched"
    await state.apply(revocation(7, not_before=int(T0) - 100))  # an older one never moves it back
    assert state.is_revoked(7, "any", int(T0) - 1)


def test_an_event_floors_not_before_to_the_second_iat_counts_in() -> None:
    at = datetime.fromtimestamp(T0 + 0.75, UTC)
    event = SessionsRevoked(user_id=1, session_ids=["a"], not_before=at, reason="password_change", revoked_at=at)
    assert Revocation.of(event).not_before == int(T0)
    with pytest.raises(ValueError):
        SessionsRevoked(user_id=1, reason="logout", revoked_at=at)


async def test_an_expired_revocation_is_not_remembered_and_listeners_are_told() -> None:
    clock = ManualClock(T0 + TTL + 5)
    state = Revocations(TTL, clock)
    heard: list[int] = []

    async def failing(_: Revocation) -> None:
        raise RuntimeError("a listener that fails does not stop the others")

    async def listener(r: Revocation) -> None:
        heard.append(r.user_id)

    state.on_revoked(failing)
    state.on_revoked(listener)
    await state.apply(revocation(1, ("old",)))
    await state.apply(revocation(2, ("new",), at=clock.now))
    assert not state.is_revoked(1, "old", 0) and state.is_revoked(2, "new", 0)
    assert heard == [2]


async def test_a_process_started_later_reads_one_token_lifetime_back(redis_url: str) -> None:
    redis = Redis.from_url(redis_url, decode_responses=True)
    clock = ManualClock(T0)
    service = f"svc-{uuid.uuid4().hex[:8]}"
    feed = RevocationFeed(redis, service, TTL, clock)
    try:
        # Stream ids come from the Redis server's clock: entries are written "now" and read back with the
        # injected clock placed around that moment.
        server_now = (await redis.time())[0]
        clock.now = server_now
        await feed.append(revocation(1, ("s1",), at=server_now))
        await feed.append(revocation(2, not_before=int(server_now), at=server_now))

        fresh = Revocations(TTL, clock)
        mirror = RevocationMirror(RevocationFeed(redis, service, TTL, clock), fresh, poll_s=0.1)
        assert await mirror.catch_up() == 2 and mirror.loaded.is_set()
        assert fresh.is_revoked(1, "s1", 0) and fresh.is_revoked(2, None, int(server_now) - 1)
        await feed.append(revocation(3, ("s3",), at=server_now))
        assert await mirror.catch_up() == 1, "then only what is new"
        assert fresh.is_revoked(3, "s3", 0)

        clock.now = server_now + TTL + 5  # a process starting a token lifetime later reads none of them
        late = RevocationMirror(RevocationFeed(redis, service, TTL, clock), Revocations(TTL, clock), poll_s=0.1)
        assert await late.catch_up() == 0
    finally:
        await redis.delete(feed.key)
        await redis.aclose()


async def test_the_verifier_refuses_a_revoked_sessions_token_after_its_signature() -> None:
    keys = TestKeys()
    revocations = Revocations(TTL)
    verifier = TokenVerifier(
        StaticKeys({keys.kid: public_pem_to_jwk(keys.public_pem, keys.kid, "RS256")}),
        "RS256",
        keys.issuer,
        keys.audience,
        revocations=revocations,
    )
    phone, laptop = uuid.uuid4().hex, uuid.uuid4().hex
    phone_token = keys.token(7, sid=phone)
    user = await verifier.verify(phone_token)
    assert (user.id, user.sid) == (7, phone) and user.issued_at > 0
    await revocations.apply(revocation(7, (phone,), at=datetime.now(UTC).timestamp()))
    with pytest.raises(Unauthorized, match="Session revoked"):
        await verifier.verify(phone_token)
    assert (await verifier.verify(keys.token(7, sid=laptop))).sid == laptop
    assert (await verifier.verify(keys.token(7))).sid is None, "a token without a session still verifies"
