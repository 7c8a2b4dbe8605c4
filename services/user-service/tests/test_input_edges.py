"""Inputs at the edges of their types (CONTRACT §2): an id outside 1 … 2⁶³−1, a cursor the service never
handed out or a body that is not JSON text is a 422 in the one validation shape (a common password too),
a body over 1 MiB a 413; never a 500 from an overflow inside MySQL."""

from __future__ import annotations

import httpx
import pytest

from .conftest import auth_headers

BEYOND_INT64 = 2**63
HUGE = 10**24


def assert_validation_error(response: httpx.Response, *loc: str) -> None:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and all(set(item) == {"loc", "msg", "type"} for item in detail), detail
    assert detail[0]["loc"][: len(loc)] == list(loc), detail


@pytest.mark.parametrize("user_id", [HUGE, BEYOND_INT64, 0, -1])
async def test_a_user_id_outside_the_id_type_is_422(client: httpx.AsyncClient, user_id: int) -> None:
    _, headers = await auth_headers(client)
    assert_validation_error(await client.get(f"/users/{user_id}", headers=headers), "path", "user_id")


async def test_the_largest_user_id_is_a_plain_404(client: httpx.AsyncClient) -> None:
    _, headers = await auth_headers(client)
    response = await client.get(f"/users/{BEYOND_INT64 - 1}", headers=headers)
    assert response.status_code == 404 and response.json() == {"detail": "User not found"}


@pytest.mark.parametrize("cursor", [str(HUGE), str(BEYOND_INT64), "-1", "1_2", "abc", "01"])
async def test_a_search_cursor_the_service_never_made_is_422(client: httpx.AsyncClient, cursor: str) -> None:
    _, headers = await auth_headers(client)
    response = await client.get("/users/search", params={"q": "a", "cursor": cursor}, headers=headers)
    assert_validation_error(response, "query", "cursor")


async def test_the_largest_search_cursor_is_an_empty_page(client: httpx.AsyncClient) -> None:
    _, headers = await auth_headers(client)
    response = await client.get("/users/search", params={"q": "a", "cursor": str(BEYOND_INT64 - 1)}, headers=headers)
    assert response.status_code == 200 and response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("ids", [f"1,{BEYOND_INT64}", f"{HUGE}", "0", "1,,2", "1, 2", "1,", "+1", "1_000", "١"])
async def test_batch_ids_outside_the_pattern_or_the_id_type_are_422(client: httpx.AsyncClient, ids: str) -> None:
    _, headers = await auth_headers(client)
    assert_validation_error(await client.get("/users", params={"ids": ids}, headers=headers), "query", "ids")


async def test_a_common_password_is_a_validation_error_on_its_field(client: httpx.AsyncClient) -> None:
    body = {"email": "common@example.com", "username": "common_pw", "password": "password123"}
    assert_validation_error(await client.post("/auth/register", json=body), "body", "password")


@pytest.mark.parametrize("path", ["/auth/register", "/auth/login/json", "/auth/refresh", "/auth/logout"])
async def test_a_body_that_is_not_json_text_is_422_and_a_huge_one_413(client: httpx.AsyncClient, path: str) -> None:
    headers = {"Content-Type": "application/json"}
    assert_validation_error(await client.post(path, content=b"\xff\xfe\x00", headers=headers), "body")
    huge = await client.post(path, content=b" " * (1024 * 1024 + 1), headers=headers)
    assert huge.status_code == 413 and huge.json() == {"detail": "Request body too large"}


async def test_a_login_with_a_value_of_another_json_type_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/login/json", json={"email": "a@example.com", "password": 12345678})
    assert_validation_error(response, "body", "password")
