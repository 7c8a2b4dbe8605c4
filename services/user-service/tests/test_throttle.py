"""Password-guess throttling (docs/user-service.md "Throttling"): counters keyed on the account however it is
spelt, an attacker's address slowed without locking the owner out, a ceiling against distributed guessing,
and wrong current passwords on a password change counted like failed logins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from app.core.state import State
from chat_shared.testing.fixtures import StartedApp

from .conftest import register

RIGHT = "correct-horse-9"
WRONG = "bad-guess-1"


@asynccontextmanager
async def _client_at(app: StartedApp[State], address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def form_login(client: httpx.AsyncClient, identifier: str, password: str) -> httpx.Response:
    return await client.post("/auth/login", data={"username": identifier, "password": password})


async def test_spellings_of_one_account_share_its_counter(client: httpx.AsyncClient, app: StartedApp[State]) -> None:
    user = await register(client)
    name, email = user["username"], user["email"]
    accented = name.replace("e", "é") if "e" in name else name + "́"
    spellings = [name.upper(), accented, email, email.upper(), f"  {accented.upper()} "]
    async with _client_at(app, "198.51.100.1") as attacker:
        for identifier in spellings:
            assert (await form_login(attacker, identifier, WRONG)).status_code == 401, identifier
        refused = await form_login(attacker, name, RIGHT)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 900
    assert 'user_login_throttled_total{scope="account_address"}' in (await client.get("/metrics")).text


async def test_unknown_names_are_counted_once_however_spelt(app: StartedApp[State]) -> None:
    spellings = [
        "Ghöst@Example.com",
        "GHOST@EXAMPLE.COM",
        "ghost@example.com ",
        "ｇｈｏｓｔ@example.com",
        "ghóst@example.com",
    ]
    async with _client_at(app, "198.51.100.2") as attacker:
        for identifier in spellings:
            assert (await form_login(attacker, identifier, WRONG)).status_code == 401, identifier
        assert (await form_login(attacker, "ghost@example.com", WRONG)).status_code == 429


async def test_the_owner_logs_in_while_an_attacker_is_refused(
    client: httpx.AsyncClient, app: StartedApp[State]
) -> None:
    user = await register(client)
    async with _client_at(app, "198.51.100.3") as attacker, _client_at(app, "203.0.113.3") as owner:
        for _ in range(5):
            assert (await form_login(attacker, user["email"], WRONG)).status_code == 401
        assert (await form_login(attacker, user["email"], RIGHT)).status_code == 429
        assert (await form_login(owner, user["email"], RIGHT)).status_code == 200


async def test_failures_from_many_addresses_refuse_only_failing_ones(
    client: httpx.AsyncClient, app: StartedApp[State], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.state.settings, "login_max_failures_per_account", 6)
    user = await register(client)
    async with _client_at(app, "203.0.113.9") as home:
        assert (await form_login(home, user["email"], RIGHT)).status_code == 200  # a known address
        assert (await form_login(home, user["email"], WRONG)).status_code == 401
    for attacker_address in ("198.51.100.10", "198.51.100.11"):
        async with _client_at(app, attacker_address) as attacker:
            for _ in range(3 if attacker_address.endswith("10") else 2):
                assert (await form_login(attacker, user["email"], WRONG)).status_code == 401
    # 6 failures now: past the account's ceiling.
    async with _client_at(app, "198.51.100.10") as attacker:
        refused = await form_login(attacker, user["email"], RIGHT)
        assert refused.status_code == 429 and "retry-after" in refused.headers
    async with _client_at(app, "198.51.100.12") as newcomer:
        assert (await form_login(newcomer, user["email"], WRONG)).status_code == 401  # no failures there yet
        assert (await form_login(newcomer, user["email"], RIGHT)).status_code == 429
    async with _client_at(app, "203.0.113.9") as home:
        assert (await form_login(home, user["email"], RIGHT)).status_code == 200  # failed once, but known
    async with _client_at(app, "203.0.113.10") as elsewhere:
        assert (await form_login(elsewhere, user["email"], RIGHT)).status_code == 200
    assert 'user_login_throttled_total{scope="account"}' in (await client.get("/metrics")).text


async def test_wrong_current_passwords_are_throttled_like_logins(
    client: httpx.AsyncClient, app: StartedApp[State]
) -> None:
    user = await register(client)

    async with _client_at(app, "198.51.100.20") as thief, _client_at(app, "203.0.113.20") as owner:
        token = (await form_login(thief, user["username"], RIGHT)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        body = {"current_password": WRONG, "new_password": "new-password-42"}
        for _ in range(4):
            assert (await thief.put("/profile/me/password", headers=headers, json=body)).status_code == 400
        # A success in between clears the address's count for this account.
        ok = {"current_password": RIGHT, "new_password": RIGHT + "x"}
        assert (await thief.put("/profile/me/password", headers=headers, json=ok)).status_code == 204
        # The change ended every session, this one too: log in again with the new password.
        token = (await form_login(thief, user["username"], RIGHT + "x")).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        body = {"current_password": WRONG, "new_password": "new-password-43"}
        for _ in range(5):
            assert (await thief.put("/profile/me/password", headers=headers, json=body)).status_code == 400
        refused = await thief.put(
            "/profile/me/password",
            headers=headers,
            json={"current_password": RIGHT + "x", "new_password": "new-pass-44"},
        )
        assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 900
        # The same counters as login: this address may not guess by logging in either.
        assert (await form_login(thief, user["username"], RIGHT + "x")).status_code == 429
        # The owner, elsewhere, is not locked out.
        assert (await form_login(owner, user["username"], RIGHT + "x")).status_code == 200
