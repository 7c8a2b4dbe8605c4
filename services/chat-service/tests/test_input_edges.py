"""Inputs at the edges of their types (CONTRACT §2): an id or seq outside 0/1 … 2⁶³−1, a cursor the service
never handed out, a body of the wrong JSON type, too large or not JSON at all is a 4xx with the declared
body, never a 500 from an overflow inside MySQL or BSON."""

from __future__ import annotations

import httpx
import pytest

from app.core.state import State
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import befriend, dm, new_user, send

BEYOND_INT64 = 2**63
HUGE = 10**24


def assert_validation_error(response: httpx.Response, *loc: str | int) -> None:
    """A 422 in the one shape every 422 has: a list of ``{loc, msg, type}``."""
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail, detail
    assert all(set(item) == {"loc", "msg", "type"} for item in detail), detail
    assert detail[0]["loc"][: len(loc)] == list(loc), detail


@pytest.mark.parametrize(
    ("method", "path", "loc"),
    [
        ("GET", f"/rooms/{HUGE}", ("path", "room_id")),
        ("GET", f"/rooms/{BEYOND_INT64}", ("path", "room_id")),
        ("GET", "/rooms/0", ("path", "room_id")),
        ("DELETE", f"/rooms/{HUGE}/messages/6b0f06faed8451a307bd4ea3", ("path", "room_id")),
        ("POST", f"/rooms/{HUGE}/read", ("path", "room_id")),
        ("GET", f"/rooms/{HUGE}/messages", ("path", "room_id")),
    ],
)
async def test_a_room_id_beyond_64_bits_is_422(
    client: httpx.AsyncClient, keys: Keys, method: str, path: str, loc: tuple[str, str]
) -> None:
    response = await client.request(method, path, json={"seq": 1}, headers=keys.headers(new_user()))
    assert_validation_error(response, *loc)


async def test_the_largest_id_is_a_plain_404(client: httpx.AsyncClient, keys: Keys) -> None:
    response = await client.get(f"/rooms/{BEYOND_INT64 - 1}", headers=keys.headers(new_user()))
    assert response.status_code == 404 and response.json() == {"detail": "Room not found"}


async def test_history_positions_beyond_64_bits_are_422(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    await send(client, keys, a, room, "one")
    for query in (f"after={BEYOND_INT64}", f"before={BEYOND_INT64}", "before=0", "after=-1"):
        response = await client.get(f"/rooms/{room}/messages?{query}", headers=keys.headers(a))
        assert_validation_error(response, "query")
    largest = await client.get(f"/rooms/{room}/messages?after={BEYOND_INT64 - 1}", headers=keys.headers(a))
    assert largest.status_code == 200 and largest.json() == {"items": [], "next_cursor": None}
    both = await client.get(f"/rooms/{room}/messages?after=1&before=2", headers=keys.headers(a))
    assert_validation_error(both, "query", "after")


async def test_a_read_position_past_the_last_message_reads_up_to_it(
    state: State, client: httpx.AsyncClient, keys: Keys
) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    await send(client, keys, b, room, "one")
    await send(client, keys, b, room, "two")
    read = await client.post(f"/rooms/{room}/read", json={"seq": 121645100408832000}, headers=keys.headers(a))
    assert read.status_code == 200, read.text
    assert read.json() == {"room_id": room, "last_read_seq": 2, "unread_count": 0}
    beyond = await client.post(f"/rooms/{room}/read", json={"seq": BEYOND_INT64}, headers=keys.headers(a))
    assert_validation_error(beyond, "body", "seq")


@pytest.mark.parametrize("body", [{"seq": False}, {"seq": "3"}, {"seq": 1.5}, {"seq": None}])
async def test_a_read_position_of_another_json_type_is_422(
    state: State, client: httpx.AsyncClient, keys: Keys, body: dict[str, object]
) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    response = await client.post(f"/rooms/{room}/read", json=body, headers=keys.headers(a))
    assert_validation_error(response, "body", "seq")


@pytest.mark.parametrize(
    "cursor",
    [
        "100000000000000000000000_1",  # a time beyond 64 bits
        f"{BEYOND_INT64 - 1}_1",  # in range, but beyond the year 9999
        f"1_{BEYOND_INT64}",
        "1",
        "1_2_3",
        "-1_1",
        "a_b",
        "01_1",
    ],
)
async def test_a_rooms_cursor_the_service_never_made_is_422(client: httpx.AsyncClient, keys: Keys, cursor: str) -> None:
    response = await client.get("/rooms", params={"cursor": cursor}, headers=keys.headers(new_user()))
    assert_validation_error(response, "query", "cursor")


async def test_the_rooms_cursor_round_trips(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b, c = new_user(), new_user(), new_user()
    await befriend(state, a, b, c)
    rooms = [await dm(client, keys, a, other) for other in (b, c)]
    first = await client.get("/rooms?limit=1", headers=keys.headers(a))
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    second = await client.get("/rooms", params={"limit": 1, "cursor": cursor}, headers=keys.headers(a))
    assert second.status_code == 200, second.text
    seen = [first.json()["items"][0]["id"], second.json()["items"][0]["id"]]
    assert sorted(seen) == sorted(rooms) and second.json()["next_cursor"] is None


@pytest.mark.parametrize("member", [0, BEYOND_INT64, True, "5"])
async def test_member_ids_outside_the_id_type_are_422(client: httpx.AsyncClient, keys: Keys, member: object) -> None:
    response = await client.post(
        "/rooms", json={"type": "direct", "member_ids": [member]}, headers=keys.headers(new_user())
    )
    assert_validation_error(response, "body", "member_ids")


async def test_an_emoji_with_whitespace_is_422(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    message = await send(client, keys, a, room, "react to me")
    for emoji in ("a%20b", "%C2%A0", "%E2%80%83"):  # a space, a no-break space, an em space
        response = await client.put(
            f"/rooms/{room}/messages/{message['id']}/reactions/{emoji}", headers=keys.headers(a)
        )
        assert_validation_error(response, "path", "emoji")


async def test_a_body_that_is_not_json_text_is_422_and_a_huge_one_413(client: httpx.AsyncClient, keys: Keys) -> None:
    headers = {**keys.headers(new_user()), "Content-Type": "application/json"}
    garbage = await client.post("/rooms", content=b"\xff\xfe\x00", headers=headers)
    assert_validation_error(garbage, "body")
    huge = await client.post("/rooms", content=b" " * (1024 * 1024 + 1), headers=headers)
    assert huge.status_code == 413 and huge.json() == {"detail": "Request body too large"}
