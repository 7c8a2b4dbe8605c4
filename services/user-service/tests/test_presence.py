"""CONTRACT §3 presence: heartbeat TTL, online/offline transitions published once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.core.state import State
from app.services.presence_service import ONLINE_SET, Presence, presence_key
from chat_shared.db import create_engine, create_sessionmaker, utcnow
from chat_shared.testing.broker import free_port, read_events
from chat_shared.testing.faults import FailingCommit

from .conftest import auth_headers


def _transitions(events: list[dict[str, Any]], user_id: int) -> list[str]:
    return [str(e.get("event_type")) for e in events if e.get("payload", {}).get("user_id") == user_id]


async def test_heartbeat_marks_online_for_60s_and_publishes_once(
    client: httpx.AsyncClient, state: State, kafka_bootstrap: str
) -> None:
    me, headers = await auth_headers(client)
    for _ in range(3):
        assert (await client.post("/presence/heartbeat", headers=headers)).status_code == 200
    redis = state.redis
    assert 55 <= await redis.ttl(presence_key(me["id"])) <= 60
    assert (await client.get(f"/users/{me['id']}", headers=headers)).json()["is_online"] is True
    events = await read_events(
        kafka_bootstrap,
        "user.online_status",
        lambda evs: any(e.get("payload", {}).get("user_id") == me["id"] for e in evs),
    )
    mine = [e for e in events if e.get("payload", {}).get("user_id") == me["id"]]
    assert [e.get("event_type") for e in mine] == ["UserOnline"]


async def test_expired_heartbeat_goes_offline(client: httpx.AsyncClient, state: State, kafka_bootstrap: str) -> None:
    me, headers = await auth_headers(client)
    await client.post("/presence/heartbeat", headers=headers)
    redis = state.redis
    # What 60 s of silence leaves behind: the key expired, the member's deadline passed.
    await redis.delete(presence_key(me["id"]))
    await redis.zadd(ONLINE_SET, {str(me["id"]): 0})
    events = await read_events(
        kafka_bootstrap, "user.online_status", lambda evs: "UserOffline" in _transitions(evs, me["id"])
    )
    assert _transitions(events, me["id"]) == ["UserOnline", "UserOffline"]
    profile = (await client.get(f"/users/{me['id']}", headers=headers)).json()
    assert profile["is_online"] is False and profile["last_seen_at"] is not None


async def test_a_sweep_whose_sql_fails_is_retried(
    client: httpx.AsyncClient, state: State, mysql_url: str, kafka_bootstrap: str
) -> None:
    """MySQL away during a sweep: the user stays offline-pending, and the next sweep publishes UserOffline."""
    me, headers = await auth_headers(client)
    await client.post("/presence/heartbeat", headers=headers)
    redis = state.redis
    # Silence as this test's sweeper sees it: the heartbeat key is gone and, two hours on by its clock, the
    # deadline in the online set has passed (the app's own sweeper, on the real clock, leaves it alone).
    await redis.delete(presence_key(me["id"]))
    await redis.zadd(ONLINE_SET, {str(me["id"]): utcnow().timestamp() + 3600})
    later = utcnow() + timedelta(hours=2)
    presence = Presence(redis, state.presence.ttl_s, clock=lambda: later)
    outbox = state.outbox
    nothing_listens = make_url(mysql_url).set(host="127.0.0.1", port=free_port())
    engine = create_engine(nothing_listens.render_as_string(hide_password=False), "user-service")
    try:
        with pytest.raises(DBAPIError):
            await presence.sweep(create_sessionmaker(engine), outbox)
    finally:
        await engine.dispose()

    assert await presence.sweep(state.sessionmaker, outbox) == 1
    events = await read_events(
        kafka_bootstrap, "user.online_status", lambda evs: "UserOffline" in _transitions(evs, me["id"])
    )
    assert _transitions(events, me["id"]) == ["UserOnline", "UserOffline"]
    profile = (await client.get(f"/users/{me['id']}", headers=headers)).json()
    assert profile["is_online"] is False
    last_seen = datetime.fromisoformat(profile["last_seen_at"].replace("Z", "+00:00"))
    assert abs(last_seen - later) < timedelta(seconds=1), "the sweep's time is the user's last seen time"


async def test_a_heartbeat_whose_commit_fails_is_an_online_transition_again(
    client: httpx.AsyncClient, state: State, kafka_bootstrap: str
) -> None:
    me, headers = await auth_headers(client)
    with FailingCommit(state.engine, "UserOnline") as fault:
        failed = await client.post("/presence/heartbeat", headers=headers)
    assert fault.fired == 1
    assert failed.status_code == 503
    # Redis still says what the published events say: offline.
    assert await state.redis.exists(presence_key(me["id"])) == 0
    assert (await client.post("/presence/heartbeat", headers=headers)).status_code == 200
    events = await read_events(
        kafka_bootstrap, "user.online_status", lambda evs: "UserOnline" in _transitions(evs, me["id"])
    )
    assert _transitions(events, me["id"]) == ["UserOnline"]
    assert (await client.get(f"/users/{me['id']}", headers=headers)).json()["is_online"] is True


async def test_a_sweep_whose_commit_fails_finds_the_user_again(
    client: httpx.AsyncClient, state: State, kafka_bootstrap: str
) -> None:
    me, headers = await auth_headers(client)
    await client.post("/presence/heartbeat", headers=headers)
    with FailingCommit(state.engine, "UserOffline") as fault:
        # 60 s of silence, as in the test above; the sweeper (every 2 s) fails once, then succeeds.
        await state.redis.delete(presence_key(me["id"]))
        await state.redis.zadd(ONLINE_SET, {str(me["id"]): 0})
        events = await read_events(
            kafka_bootstrap,
            "user.online_status",
            lambda evs: "UserOffline" in _transitions(evs, me["id"]),
            timeout=30,
        )
    assert fault.fired == 1
    assert _transitions(events, me["id"]) == ["UserOnline", "UserOffline"]
    assert await state.redis.zscore(ONLINE_SET, str(me["id"])) is None
    profile = (await client.get(f"/users/{me['id']}", headers=headers)).json()
    assert profile["is_online"] is False and profile["last_seen_at"] is not None
