"""CONTRACT §8, group roles: owner/admin/member on every room object, rename, remove, change a role, hand
over ownership, ownership passing on when the owner leaves; who may do what; direct rooms have no roles;
the changes reach the stream and are published on chat.events."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.state import State
from chat_shared.testing.broker import read_events
from chat_shared.testing.sse import open_stream
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import UvicornServer, befriend, dm, new_user


async def group(state: State, client: httpx.AsyncClient, keys: Keys, owner: int, *members: int) -> int:
    """A group of ``owner`` and ``members`` (made the owner's friends first)."""
    await befriend(state, owner, *members)
    response = await client.post(
        "/rooms", json={"type": "group", "name": "team", "member_ids": list(members)}, headers=keys.headers(owner)
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def roles(room: dict[str, Any]) -> dict[int, str | None]:
    return {m["user_id"]: m["role"] for m in room["members"]}


async def test_the_creator_owns_the_group_and_every_room_object_shows_the_roles(
    state: State, client: httpx.AsyncClient, keys: Keys
) -> None:
    owner, a, b = new_user(), new_user(), new_user()
    await befriend(state, owner, a, b)
    created = await client.post(
        "/rooms", json={"type": "group", "name": "team", "member_ids": [a, b]}, headers=keys.headers(owner)
    )
    body = created.json()
    assert roles(body) == {owner: "owner", a: "member", b: "member"}
    assert [m["user_id"] for m in body["members"]] == body["member_ids"] == sorted([owner, a, b])
    assert all(m["joined_at"].endswith("Z") for m in body["members"])
    read = (await client.get(f"/rooms/{body['id']}", headers=keys.headers(a))).json()
    assert roles(read) == roles(body)
    listed = (await client.get("/rooms", headers=keys.headers(b))).json()["items"]
    assert roles(next(r for r in listed if r["id"] == body["id"])) == roles(body)
    assert body["settings"] == {"muted_until": None, "notify": "all"}
    direct = await dm(client, keys, owner, a)
    shown = (await client.get(f"/rooms/{direct}", headers=keys.headers(owner))).json()
    assert roles(shown) == {owner: None, a: None}  # a direct room has no roles


async def test_only_the_owner_and_admins_rename_and_invite(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    owner, admin, member, friend = new_user(), new_user(), new_user(), new_user()
    room = await group(state, client, keys, owner, admin, member)
    await befriend(state, member, friend)
    await befriend(state, admin, friend)
    promoted = await client.put(
        f"/rooms/{room}/members/{admin}/role", json={"role": "admin"}, headers=keys.headers(owner)
    )
    assert promoted.status_code == 200 and roles(promoted.json())[admin] == "admin"

    refused = await client.patch(f"/rooms/{room}", json={"name": "mine"}, headers=keys.headers(member))
    assert refused.status_code == 403
    invite = await client.post(f"/rooms/{room}/members", json={"user_id": friend}, headers=keys.headers(member))
    assert invite.status_code == 403
    renamed = await client.patch(f"/rooms/{room}", json={"name": " ours "}, headers=keys.headers(admin))
    assert renamed.status_code == 200 and renamed.json()["name"] == "ours"
    invited = await client.post(f"/rooms/{room}/members", json={"user_id": friend}, headers=keys.headers(admin))
    assert invited.status_code == 201 and roles(invited.json())[friend] == "member"
    assert (await client.patch(f"/rooms/{room}", json={"name": "x"}, headers=keys.headers(owner))).status_code == 200


async def test_who_may_remove_whom(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    owner, admin, other_admin, m1, m2 = (new_user() for _ in range(5))
    room = await group(state, client, keys, owner, admin, other_admin, m1, m2)
    for user in (admin, other_admin):
        await client.put(f"/rooms/{room}/members/{user}/role", json={"role": "admin"}, headers=keys.headers(owner))

    def delete(actor: int, target: int) -> Any:
        return client.delete(f"/rooms/{room}/members/{target}", headers=keys.headers(actor))

    assert (await delete(m1, m2)).status_code == 403  # a member removes no one
    assert (await delete(admin, other_admin)).status_code == 403  # an admin removes members only
    assert (await delete(admin, owner)).status_code == 403  # nobody removes the owner
    assert (await delete(admin, new_user())).status_code == 404  # not a member
    assert (await delete(admin, m1)).status_code == 204
    assert (await delete(owner, other_admin)).status_code == 204
    assert (await delete(owner, m1)).status_code == 404  # already gone
    room_now = (await client.get(f"/rooms/{room}", headers=keys.headers(owner))).json()
    assert room_now["member_ids"] == sorted([owner, admin, m2])
    # A removed member gets 403 on the room's routes.
    for method, url, body in [
        ("GET", f"/rooms/{room}", None),
        ("GET", f"/rooms/{room}/messages", None),
        ("POST", f"/rooms/{room}/messages", {"content": "still here?"}),
        ("POST", f"/rooms/{room}/typing", None),
        ("PUT", f"/rooms/{room}/settings", {"notify": "none"}),
    ]:
        response = await client.request(method, url, json=body, headers=keys.headers(m1))
        assert response.status_code == 403, (method, url, response.text)


async def test_roles_change_by_the_owner_only(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    owner, admin, member = new_user(), new_user(), new_user()
    room = await group(state, client, keys, owner, admin, member)
    url = f"/rooms/{room}/members/{{}}/role"
    assert (await client.put(url.format(admin), json={"role": "admin"}, headers=keys.headers(owner))).status_code == 200
    for actor in (admin, member):
        refused = await client.put(url.format(member), json={"role": "admin"}, headers=keys.headers(actor))
        assert refused.status_code == 403
    assert (
        await client.put(url.format(owner), json={"role": "member"}, headers=keys.headers(owner))
    ).status_code == 400
    assert (
        await client.put(url.format(new_user()), json={"role": "admin"}, headers=keys.headers(owner))
    ).status_code == 404
    for body in ({"role": "owner"}, {"role": "boss"}, {}, {"role": "admin", "user_id": 1}):
        assert (await client.put(url.format(member), json=body, headers=keys.headers(owner))).status_code == 422
    demoted = await client.put(url.format(admin), json={"role": "member"}, headers=keys.headers(owner))
    assert demoted.status_code == 200 and roles(demoted.json()) == {owner: "owner", admin: "member", member: "member"}


async def test_handing_over_ownership(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    owner, heir, member = new_user(), new_user(), new_user()
    room = await group(state, client, keys, owner, heir, member)
    refused = await client.post(f"/rooms/{room}/owner", json={"user_id": member}, headers=keys.headers(heir))
    assert refused.status_code == 403
    stranger = await client.post(f"/rooms/{room}/owner", json={"user_id": new_user()}, headers=keys.headers(owner))
    assert stranger.status_code == 404
    handed = await client.post(f"/rooms/{room}/owner", json={"user_id": heir}, headers=keys.headers(owner))
    assert handed.status_code == 200
    assert roles(handed.json()) == {owner: "admin", heir: "owner", member: "member"}
    # The former owner is an admin now: they may no longer change roles, the new owner may.
    url = f"/rooms/{room}/members/{member}/role"
    assert (await client.put(url, json={"role": "admin"}, headers=keys.headers(owner))).status_code == 403
    assert (await client.put(url, json={"role": "admin"}, headers=keys.headers(heir))).status_code == 200


async def test_the_longest_standing_admin_else_member_inherits_from_a_leaving_owner(
    state: State, client: httpx.AsyncClient, keys: Keys
) -> None:
    owner, first, late_admin, later = new_user(), new_user(), new_user(), new_user()
    room = await group(state, client, keys, owner, first)
    await befriend(state, owner, late_admin, later)
    for user in (late_admin, later):
        response = await client.post(f"/rooms/{room}/members", json={"user_id": user}, headers=keys.headers(owner))
        assert response.status_code == 201
    await client.put(f"/rooms/{room}/members/{late_admin}/role", json={"role": "admin"}, headers=keys.headers(owner))
    # An admin wins over a member who joined earlier.
    assert (await client.delete(f"/rooms/{room}/members/me", headers=keys.headers(owner))).status_code == 204
    after = (await client.get(f"/rooms/{room}", headers=keys.headers(first))).json()
    assert roles(after) == {first: "member", late_admin: "owner", later: "member"}
    # No admin left: the longest-standing member inherits.
    assert (await client.delete(f"/rooms/{room}/members/me", headers=keys.headers(late_admin))).status_code == 204
    after = (await client.get(f"/rooms/{room}", headers=keys.headers(first))).json()
    assert roles(after) == {first: "owner", later: "member"}
    # An owner removing themselves by id is leaving, too.
    assert (await client.delete(f"/rooms/{room}/members/{first}", headers=keys.headers(first))).status_code == 204
    assert roles((await client.get(f"/rooms/{room}", headers=keys.headers(later))).json()) == {later: "owner"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "", {"name": "x"}),
        ("DELETE", "/members/{other}", None),
        ("PUT", "/members/{other}/role", {"role": "admin"}),
        ("POST", "/owner", {"user_id": "{other}"}),
    ],
)
async def test_direct_rooms_have_no_roles(
    state: State, client: httpx.AsyncClient, keys: Keys, method: str, path: str, body: dict[str, Any] | None
) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    if body and body.get("user_id") == "{other}":
        body = {"user_id": b}
    response = await client.request(method, f"/rooms/{room}{path.format(other=b)}", json=body, headers=keys.headers(a))
    assert response.status_code == 400, response.text


async def test_malformed_moderation_bodies_are_422(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    owner, member = new_user(), new_user()
    room = await group(state, client, keys, owner, member)
    for body in ({"name": ""}, {"name": "   "}, {"name": "x" * 101}, {}, {"name": "x", "type": "direct"}):
        assert (await client.patch(f"/rooms/{room}", json=body, headers=keys.headers(owner))).status_code == 422
    for owner_body in ({}, {"user_id": 0}, {"user_id": "me"}):
        assert (
            await client.post(f"/rooms/{room}/owner", json=owner_body, headers=keys.headers(owner))
        ).status_code == 422
    assert (await client.delete(f"/rooms/{room}/members/0", headers=keys.headers(owner))).status_code == 422
    assert (await client.patch("/rooms/999999999", json={"name": "x"}, headers=keys.headers(owner))).status_code == 404


async def test_moderation_reaches_the_stream_and_chat_events(
    state: State, client: httpx.AsyncClient, server: UvicornServer, keys: Keys, kafka_bootstrap: str
) -> None:
    owner, watcher, victim = new_user(), new_user(), new_user()
    room = await group(state, client, keys, owner, watcher, victim)
    async with (
        open_stream(server.url, headers=keys.headers(watcher)) as sse,
        open_stream(server.url, headers=keys.headers(victim)) as victim_sse,
    ):
        await client.patch(f"/rooms/{room}", json={"name": "renamed"}, headers=keys.headers(owner))
        await client.put(f"/rooms/{room}/members/{watcher}/role", json={"role": "admin"}, headers=keys.headers(owner))
        await client.delete(f"/rooms/{room}/members/{victim}", headers=keys.headers(watcher))
        # (room.created may come first: the group was created just before the stream opened.)
        got = {e.event: e for e in await sse.collect_until(lambda e: e.event == "room.member_left")}
        assert got["room.updated"].data == {"room_id": room, "name": "renamed", "by_user_id": owner}
        assert got["room.member_role_changed"].data == {
            "room_id": room,
            "user_id": watcher,
            "role": "admin",
            "by_user_id": owner,
        }
        left = got["room.member_left"].data
        assert left == {
            "room_id": room,
            "user_id": victim,
            "removed_by": watcher,
            "member_ids": sorted([owner, watcher]),
        }
        # The removed member hears of their removal, and nothing of the room after it.
        await victim_sse.until(lambda e: e.event == "room.member_left")
        await client.patch(f"/rooms/{room}", json={"name": "after"}, headers=keys.headers(owner))
        assert (await sse.until(lambda e: e.event == "room.updated")).data["name"] == "after"
        victim_sse.assert_quiet()

    def mine(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in events if e["payload"].get("room_id") == room]

    events = mine(await read_events(kafka_bootstrap, "chat.events", lambda seen: len(mine(seen)) >= 5, timeout=30))
    kinds = [e["event_type"] for e in events]
    assert kinds == ["RoomCreated", "RoomUpdated", "MemberRoleChanged", "MemberLeft", "RoomUpdated"]
    assert events[3]["payload"]["removed_by"] == watcher and events[3]["payload"]["user_id"] == victim
