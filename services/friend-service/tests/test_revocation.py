"""A revoked session's access tokens stop working here too (CONTRACT §11): ``SessionsRevoked`` from
user.events reaches this service's revocations through its own consumer and Redis feed, and the token
verifier refuses the session's tokens, and tokens issued before a user's not-before time, with a 401."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.core.state import State
from chat_shared.events import EventEnvelope
from chat_shared.events.topics import USER_EVENTS
from chat_shared.events.user import SessionsRevoked
from chat_shared.revocation import consumer_group
from chat_shared.testing.broker import holds_every_partition
from chat_shared.testing.fixtures import StartedApp
from chat_shared.testing.tokens import TestKeys
from chat_shared.testing.waiting import eventually
from tests.helpers import UserFactory, publish

#: How soon a revocation reaches every process in normal operation (docs/architecture.md, "Revocation").
REVOCATION_WINDOW_S = 5.0


@pytest.fixture(scope="module", autouse=True)
async def _revocation_group_settled(app: StartedApp[State]) -> None:
    """Apps other tests started in the revocation group have left it (that rebalance is start-up)."""
    [consumer] = [c for c in app.state.runtime.consumers if c.group_id == consumer_group("friend-service")]
    await eventually(lambda: holds_every_partition(consumer), "the revocation consumer to hold every partition")


async def revoke(bootstrap: str, event: SessionsRevoked) -> None:
    await publish(bootstrap, USER_EVENTS, EventEnvelope.of(event, "user-service").model_dump(mode="json"), event.key)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def status(client: httpx.AsyncClient, token: str) -> int:
    return (await client.get("/friends", headers=bearer(token))).status_code


async def test_a_revoked_sessions_tokens_get_401_and_other_sessions_live(
    client: httpx.AsyncClient, users: UserFactory, keys: TestKeys, kafka_bootstrap: str
) -> None:
    alice, bob = await users.many(2)
    phone, laptop = uuid.uuid4().hex, uuid.uuid4().hex
    phone_token, laptop_token = keys.token(alice.id, sid=phone), keys.token(alice.id, sid=laptop)
    bob_token = keys.token(bob.id, sid=uuid.uuid4().hex)
    assert await status(client, phone_token) == 200
    now = datetime.now(UTC)
    await revoke(
        kafka_bootstrap, SessionsRevoked(user_id=alice.id, session_ids=[phone], reason="logout", revoked_at=now)
    )

    async def refused() -> bool:
        return await status(client, phone_token) == 401

    await eventually(refused, "the revoked session's token refused", timeout=REVOCATION_WINDOW_S)
    assert (await client.get("/friends", headers=bearer(phone_token))).json() == {"detail": "Session revoked"}
    assert await status(client, laptop_token) == 200
    assert await status(client, bob_token) == 200


async def test_not_before_kills_every_older_token_of_the_user(
    client: httpx.AsyncClient, users: UserFactory, keys: TestKeys, kafka_bootstrap: str
) -> None:
    alice = await users.make()
    now = datetime.now(UTC)
    older: dict[str, Any] = {"sid": uuid.uuid4().hex, "now": now - timedelta(seconds=30)}
    old_token, unnamed_old = keys.token(alice.id, **older), keys.token(alice.id, now=now - timedelta(seconds=30))
    await revoke(
        kafka_bootstrap,
        SessionsRevoked(
            user_id=alice.id, not_before=now - timedelta(seconds=1), reason="password_change", revoked_at=now
        ),
    )

    async def refused() -> bool:
        return await status(client, old_token) == 401 and await status(client, unnamed_old) == 401

    await eventually(refused, "tokens issued before not-before refused", timeout=REVOCATION_WINDOW_S)
    assert await status(client, keys.token(alice.id, sid=uuid.uuid4().hex)) == 200, "a token issued since lives"
