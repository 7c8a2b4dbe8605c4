"""CONTRACT §3 profiles: own profile, update + event, public profiles, batch, search."""

from __future__ import annotations

import httpx
import pytest

from chat_shared.testing.broker import read_events

from .conftest import auth_headers, register, unique_name


async def test_own_profile_has_email_public_does_not(client: httpx.AsyncClient) -> None:
    me, headers = await auth_headers(client)
    own = (await client.get("/profile/me", headers=headers)).json()
    assert own["email"] == me["email"]
    public = await client.get(f"/users/{me['id']}", headers=headers)
    assert public.status_code == 200
    assert "email" not in public.json()
    assert set(public.json()) == {
        "id",
        "username",
        "display_name",
        "status_message",
        "avatar_url",
        "is_online",
        "last_seen_at",
        "created_at",
    }


async def test_unknown_user_is_404(client: httpx.AsyncClient) -> None:
    _, headers = await auth_headers(client)
    assert (await client.get("/users/987654", headers=headers)).status_code == 404


async def test_update_profile_publishes_event(client: httpx.AsyncClient, kafka_bootstrap: str) -> None:
    me, headers = await auth_headers(client)
    response = await client.patch(
        "/profile/me",
        headers=headers,
        json={"display_name": "  New Name  ", "status_message": "hi", "avatar_url": "https://cdn.example.com/a.png"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == "New Name"
    events = await read_events(
        kafka_bootstrap,
        "user.events",
        lambda evs: any(
            e.get("event_type") == "UserProfileUpdated" and e.get("payload", {}).get("user_id") == me["id"] for e in evs
        ),
    )
    (event,) = [
        e
        for e in events
        if e.get("event_type") == "UserProfileUpdated" and e.get("payload", {}).get("user_id") == me["id"]
    ]
    assert event["payload"]["display_name"] == "New Name"
    assert event["payload"]["avatar_url"] == "https://cdn.example.com/a.png"


@pytest.mark.parametrize(
    "body",
    [
        {"avatar_url": "javascript:alert(1)"},
        {"avatar_url": "ftp://x.example.com/a"},
        {"display_name": ""},
        {"display_name": "x" * 51},
        {"status_message": "s" * 201},
        {"email": "new@example.com"},
        {"id": 1},
        {"username": "renamed"},
    ],
)
async def test_bad_profile_updates_are_422(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    me, headers = await auth_headers(client)
    response = await client.patch("/profile/me", headers=headers, json=body)
    assert response.status_code == 422, body
    assert (await client.get("/profile/me", headers=headers)).json()["display_name"] == me["display_name"]


async def test_batch_lookup(client: httpx.AsyncClient) -> None:
    a, headers = await auth_headers(client)
    b = await register(client)
    response = await client.get(f"/users?ids={b['id']},{a['id']},999999", headers=headers)
    assert response.status_code == 200
    assert [u["id"] for u in response.json()["items"]] == sorted([a["id"], b["id"]])
    too_many = ",".join(str(i) for i in range(1, 102))
    assert (await client.get(f"/users?ids={too_many}", headers=headers)).status_code == 422
    assert (await client.get("/users?ids=1,abc", headers=headers)).status_code == 422


async def test_search_by_prefix_with_pagination(client: httpx.AsyncClient) -> None:
    _, headers = await auth_headers(client)
    prefix = unique_name("srch")
    names = [f"{prefix}x{i}" for i in range(3)]
    for name in names:
        await register(client, name)
    await register(client, unique_name("other"), display_name=f"{prefix.upper()} shown")
    page1 = (await client.get(f"/users/search?q={prefix}&limit=2", headers=headers)).json()
    assert len(page1["items"]) == 2 and page1["next_cursor"]
    page2 = (
        await client.get(f"/users/search?q={prefix}&limit=2&cursor={page1['next_cursor']}", headers=headers)
    ).json()
    found = [u["username"] for u in page1["items"] + page2["items"]]
    assert len(found) == 4 and set(names) <= set(found)
    assert page2["next_cursor"] is None
    assert (await client.get("/users/search?q=%25", headers=headers)).json()["items"] == []
