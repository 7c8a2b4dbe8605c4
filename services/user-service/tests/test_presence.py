"""CONTRACT §3 presence: heartbeat TTL, online/offline transitions published once."""

from __future__ import annotations

from typing import Any

import httpx

from app.core.state import State
from app.services.presence_service import ONLINE_SET, presence_key
from chat_shared.testing.broker import read_events
from chat_shared.testing.faults import FailingCommit

from .conftest import auth_headers


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
        kafka_bootstrap,
        "user.online_status",
        lambda evs: any(
            e.get("payload", {}).get("user_id") == me["id"] and e.get("event_type") == "UserOffline" for e in evs
        ),
    )
    assert [e.get("event_type") for e in events if e.get("payload", {}).get("user_id") == me["id"]] == [
        "UserOnline",
        "UserOffline",
    ]
    profile = (await client.get(f"/users/{me['id']}", headers=headers)).json()
    assert profile["is_online"] is False and profile["last_seen_at"] is not None


def _transitions(events: list[dict[str, Any]], user_id: int) -> list[str]:
    return [str(e.get("event_type")) for e in events if e.get("payload", {}).get("user_id") == user_id]


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
