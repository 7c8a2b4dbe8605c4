"""Inputs at the edges of their types (CONTRACT §2): an id outside 1 … 2⁶³−1 or a cursor the service never
handed out is a 422 in the one validation shape, never a 500 from an overflow inside MySQL; the largest id
is an ordinary 404."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import UserFactory

BEYOND_INT64 = 2**63
HUGE = 10**24


def assert_validation_error(response: httpx.Response, *loc: str) -> None:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and all(set(item) == {"loc", "msg", "type"} for item in detail), detail
    assert detail[0]["loc"][: len(loc)] == list(loc), detail


@pytest.mark.parametrize(
    ("method", "path", "loc"),
    [
        ("DELETE", f"/friends/{HUGE}", ("path", "user_id")),
        ("DELETE", f"/blocks/{HUGE}", ("path", "user_id")),
        ("DELETE", f"/blocks/{BEYOND_INT64}", ("path", "user_id")),
        ("DELETE", "/friends/0", ("path", "user_id")),
        ("POST", f"/friends/requests/{HUGE}/accept", ("path", "request_id")),
        ("POST", f"/friends/requests/{HUGE}/reject", ("path", "request_id")),
        ("DELETE", f"/friends/requests/{HUGE}", ("path", "request_id")),
    ],
)
async def test_an_id_beyond_64_bits_is_422(
    client: httpx.AsyncClient, users: UserFactory, method: str, path: str, loc: tuple[str, str]
) -> None:
    me = await users.make()
    assert_validation_error(await client.request(method, path, headers=me.headers), *loc)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", f"/friends/{BEYOND_INT64 - 1}"),
        ("DELETE", f"/blocks/{BEYOND_INT64 - 1}"),
        ("POST", f"/friends/requests/{BEYOND_INT64 - 1}/accept"),
    ],
)
async def test_the_largest_id_is_a_plain_404(
    client: httpx.AsyncClient, users: UserFactory, method: str, path: str
) -> None:
    me = await users.make()
    response = await client.request(method, path, headers=me.headers)
    assert response.status_code == 404 and isinstance(response.json()["detail"], str), response.text


@pytest.mark.parametrize("body", [{"user_id": BEYOND_INT64}, {"user_id": 0}, {"user_id": True}, {"user_id": "7"}])
async def test_a_user_id_in_a_body_outside_the_id_type_is_422(
    client: httpx.AsyncClient, users: UserFactory, body: dict[str, object]
) -> None:
    me = await users.make()
    for path in ("/friends/requests", "/blocks"):
        assert_validation_error(await client.post(path, json=body, headers=me.headers), "body", "user_id")


@pytest.mark.parametrize("path", ["/friends", "/blocks", "/friends/requests"])
@pytest.mark.parametrize("cursor", [str(HUGE), str(BEYOND_INT64), "9999999999999999999", "-1", "1_2", "07", " 1"])
async def test_a_cursor_the_service_never_made_is_422(
    client: httpx.AsyncClient, users: UserFactory, path: str, cursor: str
) -> None:
    me = await users.make()
    response = await client.get(path, params={"cursor": cursor}, headers=me.headers)
    assert_validation_error(response, "query", "cursor")


async def test_the_largest_cursor_is_an_empty_page(client: httpx.AsyncClient, users: UserFactory) -> None:
    me = await users.make()
    response = await client.get("/friends", params={"cursor": str(BEYOND_INT64 - 1)}, headers=me.headers)
    assert response.status_code == 200 and response.json() == {"items": [], "next_cursor": None}
