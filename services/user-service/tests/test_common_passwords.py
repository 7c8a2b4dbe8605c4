"""Common passwords (docs/user-service.md "Passwords"): zxcvbn-ts's breach-ranked list, shipped with the
service, refused at registration and on a password change whatever their case or width."""

from __future__ import annotations

import httpx
import pytest

from app.core.passwords import common_passwords

from .conftest import auth_headers, unique_name

# "seahawks" and "talisman" are on the maintained list only; "Paßword1" is "password1" once case-folded
# (lower-casing keeps the ß), full-width letters are ASCII once NFKC-normalised.
COMMON = [
    "seahawks",
    "TALISMAN",
    "SeaHawks",
    "ｓｅａｈａｗｋｓ",
    "ＴＡＬＩＳＭＡＮ",
    "Paßword1",
    "PAẞWORD1",
    "password123",
]


def test_the_list_is_large_and_folded() -> None:
    entries = common_passwords()
    assert len(entries) >= 10_000
    assert all(len(entry) >= 8 and entry == entry.casefold() for entry in entries)


@pytest.mark.parametrize("password", COMMON)
async def test_registration_refuses_a_common_password(client: httpx.AsyncClient, password: str) -> None:
    name = unique_name()
    body = {"email": f"{name}@example.com", "username": name, "password": password}
    response = await client.post("/auth/register", json=body)
    assert response.status_code == 422 and "common" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("password", ["ｓｅａｈａｗｋｓ", "Paßword1"])
async def test_password_change_refuses_a_common_password(client: httpx.AsyncClient, password: str) -> None:
    _, headers = await auth_headers(client)
    body = {"current_password": "correct-horse-9", "new_password": password}
    response = await client.put("/profile/me/password", headers=headers, json=body)
    assert response.status_code == 422


async def test_an_uncommon_password_is_accepted(client: httpx.AsyncClient) -> None:
    name = unique_name()
    body = {"email": f"{name}@example.com", "username": name, "password": "seahawks-talisman-7"}
    assert (await client.post("/auth/register", json=body)).status_code == 201
