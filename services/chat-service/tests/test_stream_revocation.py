"""Streams and tickets end with their session (CONTRACT §6, §11): a ticket serves the browser's own
reconnects for its 5 minutes while the session that minted it lives, and dies with it; open streams of a
revoked session, or opened before the user's not-before time, close. Revocations arrive as
``SessionsRevoked`` on user.events, through this service's consumer, Redis feed and revocation mirror."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.core.state import State
from chat_shared.events.user import SessionsRevoked
from chat_shared.revocation import consumer_group
from chat_shared.testing.broker import holds_every_partition
from chat_shared.testing.fixtures import StartedApp
from chat_shared.testing.sse import SSE, open_stream
from chat_shared.testing.tokens import TestKeys as Keys
from chat_shared.testing.waiting import eventually
from tests.support import UvicornServer, befriend, dm, new_user, publish, send

#: How soon a revocation reaches every process in normal operation (docs/architecture.md, "Revocation").
REVOCATION_WINDOW_S = 5.0


async def revoke(
    bootstrap: str, user_id: int, sids: list[str] | None = None, not_before: datetime | None = None
) -> None:
    event = SessionsRevoked(
        user_id=user_id,
        session_ids=sids,
        not_before=not_before,
        reason="logout" if not_before is None else "password_change",
        revoked_at=datetime.now(UTC),
    )
    await publish(bootstrap, event, "user-service")


@pytest.fixture(scope="module", autouse=True)
async def _revocations_flow(app: StartedApp[State], kafka_bootstrap: str) -> None:
    """The revocation consumer holds every partition (apps other tests started in its group have left: that
    rebalance, like the group's first join, is start-up, not normal operation), and one revocation is through."""
    [consumer] = [c for c in app.state.runtime.consumers if c.group_id == consumer_group("chat-service")]
    await eventually(lambda: holds_every_partition(consumer), "the revocation consumer to hold every partition")
    user, sid = new_user(), uuid.uuid4().hex
    await revoke(kafka_bootstrap, user, [sid])
    await eventually(lambda: app.state.runtime.revocations.is_revoked(user, sid, 0), "a first revocation applied")


async def ticket(client: httpx.AsyncClient, token: str) -> str:
    issued = await client.post("/stream/tickets", headers={"Authorization": f"Bearer {token}"})
    assert issued.status_code == 201, issued.text
    return str(issued.json()["ticket"])


async def opens(base_url: str, ticket_value: str) -> int:
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10.0, read=None)) as http,
        http.stream("GET", "/stream", params={"ticket": ticket_value}) as response,
    ):
        return response.status_code


async def ended(sse: SSE) -> bool:
    await asyncio.wait_for(sse.ended.wait(), REVOCATION_WINDOW_S)
    return True


async def test_a_ticket_serves_every_reconnect_while_its_session_lives(
    state: State, client: httpx.AsyncClient, server: UvicornServer, keys: Keys
) -> None:
    """An EventSource reconnects with the same URL and its Last-Event-ID: twice here, nothing lost."""
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    url_ticket = await ticket(client, keys.token(b, sid=uuid.uuid4().hex))
    async with open_stream(server.url, params={"ticket": url_ticket}) as sse:
        await send(client, keys, a, room, "one")
        last = await sse.until(lambda e: e.event == "message.created")
    for content in ("two", "three"):
        await send(client, keys, a, room, content)
        assert last.id is not None
        async with open_stream(server.url, params={"ticket": url_ticket}, headers={"Last-Event-ID": last.id}) as sse:
            last = await sse.until(lambda e: e.event == "message.created")
            assert last.data["message"]["content"] == content, "resumed right after the last event seen"


async def test_a_ticket_and_the_token_die_with_their_session(
    client: httpx.AsyncClient, server: UvicornServer, keys: Keys, kafka_bootstrap: str
) -> None:
    alice = new_user()
    phone, laptop = uuid.uuid4().hex, uuid.uuid4().hex
    phone_token = keys.token(alice, sid=phone)
    phone_ticket, laptop_ticket = await ticket(client, phone_token), await ticket(client, keys.token(alice, sid=laptop))
    assert await opens(server.url, phone_ticket) == 200
    await revoke(kafka_bootstrap, alice, [phone])

    async def refused() -> bool:
        return await opens(server.url, phone_ticket) == 401

    await eventually(refused, "the revoked session's ticket refused", timeout=REVOCATION_WINDOW_S)
    assert (await client.get("/rooms", headers={"Authorization": f"Bearer {phone_token}"})).status_code == 401
    assert (await client.post("/stream/tickets", headers={"Authorization": f"Bearer {phone_token}"})).status_code == 401
    assert await opens(server.url, laptop_ticket) == 200, "the user's other session keeps its ticket"


async def test_open_streams_of_a_revoked_session_close_and_others_stay(
    state: State, client: httpx.AsyncClient, server: UvicornServer, keys: Keys, kafka_bootstrap: str
) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    phone, laptop = uuid.uuid4().hex, uuid.uuid4().hex
    phone_ticket = await ticket(client, keys.token(b, sid=phone))
    async with (
        open_stream(server.url, params={"ticket": phone_ticket}) as by_ticket,
        open_stream(server.url, headers=keys.headers(b, sid=phone)) as by_token,
        open_stream(server.url, headers=keys.headers(b, sid=laptop)) as other_session,
    ):
        await revoke(kafka_bootstrap, b, [phone])
        assert await ended(by_ticket) and await ended(by_token)
        await send(client, keys, a, room, "still here")
        event = await other_session.until(lambda e: e.event == "message.created")
        assert event.data["message"]["content"] == "still here"


async def test_a_password_change_closes_the_users_open_streams(
    state: State, client: httpx.AsyncClient, server: UvicornServer, keys: Keys, kafka_bootstrap: str
) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    before = datetime.now(UTC) - timedelta(seconds=30)
    old_ticket = await ticket(client, keys.token(b, sid=uuid.uuid4().hex, now=before))
    async with (
        open_stream(server.url, params={"ticket": old_ticket}) as by_ticket,
        open_stream(server.url, headers={"Authorization": f"Bearer {keys.token(b, now=before)}"}) as by_token,
        open_stream(server.url, headers=keys.headers(a)) as friend,
    ):
        await revoke(kafka_bootstrap, b, not_before=datetime.now(UTC) - timedelta(seconds=1))
        assert await ended(by_ticket) and await ended(by_token)
        assert await opens(server.url, old_ticket) == 401
        async with open_stream(server.url, headers=keys.headers(b, sid=uuid.uuid4().hex)) as logged_in_again:
            await send(client, keys, a, room, "after the change")
            event = await logged_in_again.until(lambda e: e.event == "message.created")
            assert event.data["message"]["content"] == "after the change"
        assert not friend.ended.is_set(), "other users' streams are untouched"
