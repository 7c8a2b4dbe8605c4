"""CONTRACT §3 registration: rules, duplicates, bad input that changes nothing, events on the broker."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.core.state import State
from app.models.user import User
from chat_shared.testing.broker import read_events

from .conftest import login, register, unique_name

HANGUL_64 = "가나다라마바사아자차카타파하거너더러머버서어저처커터퍼허고노도로모보소오조초코토포호구누두루무부수우주추쿠투푸후그느드르므브스으"


async def user_count(state: State) -> int:
    async with state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def test_register_returns_own_profile(client: httpx.AsyncClient) -> None:
    name = unique_name()
    response = await client.post(
        "/auth/register", json={"email": f"{name}@Example.com", "username": name, "password": "correct-horse-9"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["username"] == name and body["display_name"] == name
    assert body["email"] == f"{name}@example.com"  # the domain part is case-insensitive and normalised
    assert body["is_online"] is False and body["created_at"].endswith("Z")
    assert "password" not in response.text and "hash" not in response.text


async def test_hangul_password_of_64_characters(client: httpx.AsyncClient) -> None:
    assert len(HANGUL_64) == 64
    user = await register(client, password=HANGUL_64)
    tokens = await login(client, user["email"], HANGUL_64)
    assert tokens["token_type"] == "bearer"


async def test_password_is_nfkc_normalised(client: httpx.AsyncClient) -> None:
    user = await register(client, password="ｆｕｌｌｗｉｄｔｈ-pass")  # full-width letters
    await login(client, user["email"], "fullwidth-pass")


@pytest.mark.parametrize("field", ["email", "username"])
async def test_duplicates_are_409_case_insensitively(client: httpx.AsyncClient, state: State, field: str) -> None:
    user = await register(client)
    other = unique_name()
    body = {"email": f"{other}@example.com", "username": other, "password": "correct-horse-9"}
    body[field] = user[field].upper()
    before = await user_count(state)
    response = await client.post("/auth/register", json=body)
    assert response.status_code == 409
    assert await user_count(state) == before


BAD_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("missing password", {"email": "a@example.com", "username": "abc"}),
    ("unknown field", {"email": "a@example.com", "username": "abc", "password": "correct-horse-9", "id": 5}),
    ("is_admin", {"email": "a@example.com", "username": "abc", "password": "correct-horse-9", "is_admin": True}),
    ("bad email", {"email": "not-an-email", "username": "abc", "password": "correct-horse-9"}),
    ("username too short", {"email": "a@example.com", "username": "ab", "password": "correct-horse-9"}),
    ("username too long", {"email": "a@example.com", "username": "a" * 21, "password": "correct-horse-9"}),
    ("username bad chars", {"email": "a@example.com", "username": "ab-cd", "password": "correct-horse-9"}),
    ("password 7 chars", {"email": "a@example.com", "username": "abc", "password": "short77"}),
    ("password 129 chars", {"email": "a@example.com", "username": "abc", "password": "x" * 129}),
    ("common password", {"email": "a@example.com", "username": "abc", "password": "password123"}),
    (
        "display name 51",
        {"email": "a@example.com", "username": "abc", "password": "correct-horse-9", "display_name": "d" * 51},
    ),
    (
        "display name blank",
        {"email": "a@example.com", "username": "abc", "password": "correct-horse-9", "display_name": "   "},
    ),
    ("wrong types", {"email": 5, "username": ["abc"], "password": None}),
]


@pytest.mark.parametrize(("case", "body"), BAD_BODIES, ids=[c for c, _ in BAD_BODIES])
async def test_bad_input_is_422_and_changes_nothing(
    client: httpx.AsyncClient, state: State, case: str, body: dict[str, Any]
) -> None:
    before = await user_count(state)
    response = await client.post("/auth/register", json=body)
    assert response.status_code == 422, (case, response.text)
    assert "detail" in response.json()
    assert "correct-horse-9" not in response.text  # rejected values are never echoed
    assert await user_count(state) == before


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/register", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


async def test_user_registered_event_on_broker(client: httpx.AsyncClient, kafka_bootstrap: str) -> None:
    response = await client.post(
        "/auth/register",
        headers={"X-Request-ID": "reg-corr-1", "Accept-Language": "ko-KR,ko;q=0.9,en;q=0.8"},
        json={"email": "evt@example.com", "username": unique_name("evt"), "password": "correct-horse-9"},
    )
    assert response.status_code == 201
    user_id = response.json()["id"]
    events = await read_events(
        kafka_bootstrap, "user.events", lambda evs: any(e.get("payload", {}).get("user_id") == user_id for e in evs)
    )
    (event,) = [e for e in events if e.get("payload", {}).get("user_id") == user_id]
    assert event["event_type"] == "UserRegistered" and event["event_version"] == 1
    assert event["producer"] == "user-service" and event["correlation_id"] == "reg-corr-1"
    assert event["_key"] == str(user_id)
    # The address and language of the welcome mail (notification-service); never a password or its hash.
    assert event["payload"]["email"] == "evt@example.com" and event["payload"]["locale"] == "ko"
    assert "password" not in str(event) and "argon" not in str(event)


async def test_the_mail_language_defaults_to_english(client: httpx.AsyncClient, kafka_bootstrap: str) -> None:
    ids = {}
    for header in ("fr-FR,de;q=0.5", None):
        response = await client.post(
            "/auth/register",
            headers={"Accept-Language": header} if header else {},
            json={
                "email": f"{unique_name('l')}@example.com",
                "username": unique_name("lang"),
                "password": "correct-horse-9",
            },
        )
        assert response.status_code == 201
        ids[response.json()["id"]] = header
    events = await read_events(
        kafka_bootstrap, "user.events", lambda evs: ids.keys() <= {e.get("payload", {}).get("user_id") for e in evs}
    )
    locales = {e["payload"]["user_id"]: e["payload"]["locale"] for e in events if e["payload"].get("user_id") in ids}
    assert set(locales.values()) == {"en"}


async def test_refused_registration_publishes_nothing(client: httpx.AsyncClient, kafka_bootstrap: str) -> None:
    user = await register(client)
    dup = await client.post(
        "/auth/register", json={"email": user["email"], "username": unique_name(), "password": "correct-horse-9"}
    )
    assert dup.status_code == 409
    marker = await register(client)  # a later event: once it is on the broker, the refused one would be too
    events = await read_events(
        kafka_bootstrap,
        "user.events",
        lambda evs: any(e.get("payload", {}).get("user_id") == marker["id"] for e in evs),
    )
    registered = [e for e in events if e.get("event_type") == "UserRegistered"]
    assert [e.get("payload", {}).get("username") for e in registered].count(user["username"]) == 1


async def test_concurrent_duplicates_one_account_one_event(
    client: httpx.AsyncClient, state: State, kafka_bootstrap: str
) -> None:
    """Racing registrations of one username: the unique key decides, the loser's transaction rolls back
    and publishes nothing."""
    import asyncio

    name = unique_name("race")
    responses = await asyncio.gather(
        *(
            client.post(
                "/auth/register",
                json={"email": f"{name}{i}@example.com", "username": name, "password": "correct-horse-9"},
            )
            for i in range(4)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    marker = await register(client)
    events = await read_events(
        kafka_bootstrap,
        "user.events",
        lambda evs: any(e.get("payload", {}).get("user_id") == marker["id"] for e in evs),
    )
    assert [e.get("payload", {}).get("username") for e in events].count(name) == 1
