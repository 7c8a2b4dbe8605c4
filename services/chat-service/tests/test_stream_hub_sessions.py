"""The hub ends the streams a revocation kills, and a user's streams closing at once (as a revocation closes
them) are forgotten cleanly — on the hub alone, with fake ASGI sends and a stub stream limit."""

from __future__ import annotations

import asyncio
from typing import Any

from app.stream.hub import Connection, StreamHub
from chat_shared.revocation import Revocation

CLOSE = {"type": "http.response.body", "body": b"", "more_body": False}


class SlowLimit:
    """A cross-process stream limit whose Redis round trips take a loop turn, as real ones do."""

    async def opened(self, user_id: int, number: int) -> list[Any]:
        await asyncio.sleep(0)
        return []

    async def closed(self, user_id: int, number: int) -> None:
        await asyncio.sleep(0)


def hub_with_sends() -> tuple[StreamHub, dict[int, list[dict[str, Any]]]]:
    hub = StreamHub(redis=None, user_log=None, heartbeat_s=15, max_lifetime_s=3600, limit=SlowLimit())  # type: ignore[arg-type]
    return hub, {}


async def stream(hub: StreamHub, sent: dict[int, list[dict[str, Any]]], user_id: int, **session: Any) -> Connection:
    async def send(message: dict[str, Any]) -> None:
        sent.setdefault(id(conn), []).append(message)

    conn = hub.new_connection(user_id, send, **session)
    await hub.register(conn)
    return conn


async def test_a_revocation_closes_exactly_the_streams_it_kills() -> None:
    hub, sent = hub_with_sends()
    phone = await stream(hub, sent, 1, sid="phone", issued_at=100)
    laptop = await stream(hub, sent, 1, sid="laptop", issued_at=100)
    unnamed_old = await stream(hub, sent, 1, issued_at=90)
    other_user = await stream(hub, sent, 2, sid="phone", issued_at=100)

    await hub.close_sessions(Revocation(user_id=1, session_ids=frozenset({"phone"}), not_before=None, revoked_at=0))
    assert phone.closed == "revoked" and sent[id(phone)][-1] == CLOSE
    assert laptop.closed is None and unnamed_old.closed is None and other_user.closed is None

    await hub.close_sessions(Revocation(user_id=1, session_ids=frozenset(), not_before=95, revoked_at=0))
    assert unnamed_old.closed == "revoked", "opened with a token issued before the not-before second"
    assert laptop.closed is None, "a token issued since lives"


async def test_a_users_streams_closing_at_once_are_all_forgotten() -> None:
    hub, sent = hub_with_sends()
    first, second = await stream(hub, sent, 1, sid="a"), await stream(hub, sent, 1, sid="b")
    await hub.close_sessions(Revocation(user_id=1, session_ids=frozenset({"a", "b"}), not_before=None, revoked_at=0))
    await asyncio.gather(hub.unregister(first, "client"), hub.unregister(second, "client"))
    assert hub.connections == {}
    again = await stream(hub, sent, 1, sid="c")
    assert hub.connections == {1: {again}}
