"""Sessions end on every service at once (CONTRACT §11), through the gateway: after a logout or a password
change the old access token gets 401 from user-, friend- and chat-service, the session's stream tickets are
dead and its open streams close, within the 5 s docs/architecture.md promises ("Revocation"); a live
ticket serves the browser's reconnects meanwhile, and no ticket reaches any log."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import devstack
import httpx
import pytest
from e2e_helpers import PASSWORD, Api, User, message_event

from chat_shared.testing.sse import SSE, open_stream
from chat_shared.testing.waiting import eventually

#: How soon a revocation reaches every process in normal operation.
REVOCATION_WINDOW_S = 5.0
#: One route per service, each behind the shared token verifier.
PROBES = ("/api/profile/me", "/api/friends", "/api/rooms")


@dataclass
class Session:
    """One login of a user: its token pair."""

    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def log_in(api: Api, user: User, password: str = PASSWORD) -> Session:
    r = await api.client.post("/api/auth/login/json", json={"email": user.email, "password": password})
    assert r.status_code == 200, r.text
    return Session(r.json()["access_token"], r.json()["refresh_token"])


async def ticket(api: Api, session: Session) -> str:
    r = await api.client.post("/api/stream/tickets", headers=session.auth)
    assert r.status_code == 201, r.text
    return str(r.json()["ticket"])


async def opens(api: Api, ticket_value: str) -> int:
    timeout = httpx.Timeout(10.0, read=None)
    async with api.client.stream("GET", "/api/stream", params={"ticket": ticket_value}, timeout=timeout) as r:
        return r.status_code


async def refused_everywhere(api: Api, session: Session) -> bool | None:
    statuses = [(await api.client.get(path, headers=session.auth)).status_code for path in PROBES]
    return True if statuses == [401, 401, 401] else None


async def ended(stream: SSE) -> bool:
    await asyncio.wait_for(stream.ended.wait(), REVOCATION_WINDOW_S)
    return True


def stream(api: Api, headers: dict[str, str] | None = None, ticket_value: str | None = None) -> Any:
    params = {"ticket": ticket_value} if ticket_value else None
    return open_stream(api.client, "/api/stream", headers=headers, params=params)


async def accepted_everywhere(api: Api, session: Session) -> bool:
    statuses = [(await api.client.get(path, headers=session.auth)).status_code for path in PROBES]
    return statuses == [200, 200, 200]


@pytest.fixture(scope="module", autouse=True)
async def _revocations_flow(api: Api) -> None:
    """One revocation end to end first: a consumer group's first join belongs to start-up, not to normal
    operation, and a system started just before the suite may still be joining."""
    user = await api.new_user("warm")
    session = await log_in(api, user)
    assert (await api.client.post("/api/auth/logout", json={"refresh_token": session.refresh_token})).status_code == 204
    await eventually(lambda: refused_everywhere(api, session), "a first revocation everywhere")


async def test_logout_kills_the_token_the_ticket_and_the_stream_everywhere(api: Api) -> None:
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    await api.befriend(alice, bob)
    room_id = (await api.direct_room(alice, bob))["id"]
    phone, laptop = await log_in(api, bob), await log_in(api, bob)
    url_ticket = await ticket(api, phone)

    # The browser's stream, and its automatic reconnect with the same URL and Last-Event-ID: both served.
    async with stream(api, ticket_value=url_ticket) as browser:
        assert (await api.send(alice, room_id, "before the reconnect")).status_code == 201
        seen = await browser.until(message_event(room_id, "before the reconnect"), "the first message")
    assert (await api.send(alice, room_id, "while reconnecting")).status_code == 201
    assert seen.id is not None
    async with stream(api, {"Last-Event-ID": seen.id}, url_ticket) as browser:
        await browser.until(message_event(room_id, "while reconnecting"), "the message sent while away")

        r = await api.client.post("/api/auth/logout", json={"refresh_token": phone.refresh_token})
        assert r.status_code == 204
        assert await ended(browser), "the session's open stream closes"

    await eventually(
        lambda: refused_everywhere(api, phone), "the old token refused everywhere", timeout=REVOCATION_WINDOW_S
    )
    assert await opens(api, url_ticket) == 401, "the ticket died with its session"
    assert await accepted_everywhere(api, laptop), "the user's other session lives"
    assert await opens(api, await ticket(api, laptop)) == 200


async def test_a_password_change_closes_every_stream_of_the_user(api: Api) -> None:
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    await api.befriend(alice, bob)
    room_id = (await api.direct_room(alice, bob))["id"]
    phone, laptop = await log_in(api, bob), await log_in(api, bob)
    async with (
        stream(api, ticket_value=await ticket(api, phone)) as by_ticket,
        stream(api, laptop.auth) as by_token,
        stream(api, alice.auth) as friends_stream,
    ):
        new_password = f"{PASSWORD} {uuid.uuid4().hex[:6]}"
        r = await api.client.put(
            "/api/profile/me/password",
            headers=laptop.auth,
            json={"current_password": PASSWORD, "new_password": new_password},
        )
        assert r.status_code == 204, r.text
        assert await ended(by_ticket) and await ended(by_token)
        assert (await api.send(alice, room_id, "alice is still here")).status_code == 201
        await friends_stream.until(message_event(room_id, "alice is still here"), "alice's own stream lives on")

    async def both_refused() -> bool:
        return bool(await refused_everywhere(api, phone) and await refused_everywhere(api, laptop))

    await eventually(both_refused, "both old sessions refused everywhere", timeout=REVOCATION_WINDOW_S)
    again = await log_in(api, bob, new_password)
    assert await accepted_everywhere(api, again), "logged in again with the new password"


async def test_no_ticket_reaches_any_log(api: Api, dev_stack: devstack.DevStack | None) -> None:
    """The gateway's and every service's lines (the whole captured output of make dev) hold no ticket."""
    if dev_stack is None:
        pytest.skip("the logs of a system started elsewhere are not readable here")
    stack = dev_stack
    user = await api.new_user("logs")
    session = await log_in(api, user)
    real, made_up = await ticket(api, session), f"SECRET{uuid.uuid4().hex}"
    ids = [f"logs-{uuid.uuid4().hex}" for _ in range(3)]
    async with stream(api, {"X-Request-ID": ids[0]}, real):
        pass
    r = await api.client.get("/api/stream", params={"ticket": made_up}, headers={"X-Request-ID": ids[1]})
    assert r.status_code == 401
    await api.client.get("/api/rooms", params={"ticket": made_up}, headers={**session.auth, "X-Request-ID": ids[2]})

    async def logged() -> str | None:
        text = stack.log_text()
        # Each request's line from the gateway and from chat-service.
        return text if all(text.count(request_id) >= 2 for request_id in ids) else None

    text = await eventually(logged, "the gateway's and chat-service's lines of these requests")
    assert real not in text and made_up not in text
