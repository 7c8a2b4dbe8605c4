"""CONTRACT §8, per-member settings: ``PUT /rooms/{id}/settings`` → 200, shown on the caller's room objects
only, published as ``RoomSettingsChanged``; a mute in the past reads as "not muted", one out of range is 422,
never a 500."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from app.core.state import State
from chat_shared.schemas import rfc3339
from chat_shared.testing.broker import read_events
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import befriend, dm, new_user, now


async def _room(state: State, client: httpx.AsyncClient, keys: Keys) -> tuple[int, int, int]:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    return await dm(client, keys, a, b), a, b


async def test_settings_are_the_callers_own_and_show_on_the_room(
    state: State, client: httpx.AsyncClient, keys: Keys, kafka_bootstrap: str
) -> None:
    room, a, b = await _room(state, client, keys)
    until = (now() + timedelta(hours=8)).replace(microsecond=0)
    response = await client.put(
        f"/rooms/{room}/settings", json={"muted_until": rfc3339(until), "notify": "mentions"}, headers=keys.headers(a)
    )
    assert response.status_code == 200, response.text
    settings = {"muted_until": rfc3339(until), "notify": "mentions"}
    assert response.json() == settings
    listed = (await client.get("/rooms", headers=keys.headers(a))).json()["items"]
    assert next(r for r in listed if r["id"] == room)["settings"] == settings
    assert (await client.get(f"/rooms/{room}", headers=keys.headers(a))).json()["settings"] == settings
    # The other member's settings are their own.
    assert (await client.get(f"/rooms/{room}", headers=keys.headers(b))).json()["settings"] == {
        "muted_until": None,
        "notify": "all",
    }
    # PUT replaces: what is left out takes its default (not muted, notify all).
    cleared = await client.put(f"/rooms/{room}/settings", json={"notify": "none"}, headers=keys.headers(a))
    assert cleared.json() == {"muted_until": None, "notify": "none"}

    def mine(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in events if e["event_type"] == "RoomSettingsChanged" and e["payload"]["room_id"] == room]

    events = mine(await read_events(kafka_bootstrap, "chat.events", lambda seen: len(mine(seen)) >= 2, timeout=30))
    assert [(e["payload"]["user_id"], e["payload"]["notify"]) for e in events] == [(a, "mentions"), (a, "none")]
    assert datetime.fromisoformat(events[0]["payload"]["muted_until"]) == until


async def test_a_mute_in_the_past_is_no_mute(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    room, a, _ = await _room(state, client, keys)
    for past in ("2001-01-01T00:00:00Z", "0001-01-01T00:00:00Z", rfc3339(now() - timedelta(seconds=1))):
        response = await client.put(
            f"/rooms/{room}/settings", json={"muted_until": past, "notify": "all"}, headers=keys.headers(a)
        )
        assert response.status_code == 200 and response.json()["muted_until"] is None, response.text


async def test_a_mute_far_in_the_future_is_kept(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    room, a, _ = await _room(state, client, keys)
    response = await client.put(
        f"/rooms/{room}/settings", json={"muted_until": "9999-12-31T23:59:59Z"}, headers=keys.headers(a)
    )
    assert response.status_code == 200 and response.json()["muted_until"] == "9999-12-31T23:59:59.000Z"
    assert (await client.get(f"/rooms/{room}", headers=keys.headers(a))).json()["settings"]["muted_until"] == (
        "9999-12-31T23:59:59.000Z"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"muted_until": "10000-01-01T00:00:00Z"},
        {"muted_until": "9999-12-31T23:59:59-23:00"},  # past year 9999 once in UTC
        {"muted_until": 10**20},
        {"muted_until": "tomorrow"},
        {"notify": "sometimes"},
        {"notify": "all", "user_id": 1},
    ],
)
async def test_out_of_range_or_malformed_settings_are_422(
    state: State, client: httpx.AsyncClient, keys: Keys, body: dict[str, Any]
) -> None:
    room, a, _ = await _room(state, client, keys)
    response = await client.put(f"/rooms/{room}/settings", json=body, headers=keys.headers(a))
    assert response.status_code == 422, response.text
    assert (await client.get(f"/rooms/{room}", headers=keys.headers(a))).json()["settings"]["notify"] == "all"


async def test_settings_are_for_members_only(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    room, _, _ = await _room(state, client, keys)
    outsider = new_user()
    assert (await client.put(f"/rooms/{room}/settings", json={}, headers=keys.headers(outsider))).status_code == 403
    assert (await client.put("/rooms/999999999/settings", json={}, headers=keys.headers(outsider))).status_code == 404
