"""A refusal of the permission replica is confirmed with a real friend-service before it is given.

friend-service runs as its own process on its own database and broker, so its ``friend.events`` never reach
chat-service's replica: the replica lagging behind is then a certainty, not a race. The people act on
friend-service over its API, then at once on chat-service.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from app.core.state import State
from app.models.replica import Friendship
from app.services.friend_directory import FriendDirectory
from chat_shared.events.friend import UserBlocked
from chat_shared.events.user import UserRegistered
from chat_shared.relationships import RELATIONSHIPS_PATH
from chat_shared.testing import databases
from chat_shared.testing.broker import Broker
from chat_shared.testing.fixtures import StartedApp
from chat_shared.testing.processes import service_process
from chat_shared.testing.tokens import TestKeys as Keys
from chat_shared.testing.waiting import eventually
from tests.conftest import SERVICE_DIR
from tests.support import apply, dm, new_user, now, publish, send

FRIEND_SERVICE_DIR = SERVICE_DIR.parent / "friend-service"


@dataclasses.dataclass
class FriendService:
    """A real friend-service process, and the people's actions on it."""

    url: str
    bootstrap: str
    keys: Keys

    async def register(self, *users: int) -> None:
        """Tell friend-service about new accounts, as user-service's events would."""
        for user in users:
            event = UserRegistered(user_id=user, username=f"u{user}", display_name=f"U {user}", created_at=now())
            await publish(self.bootstrap, event, "user-service")

    async def call(self, method: str, path: str, user: int, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            return await http.request(method, path, headers=self.keys.headers(user), **kwargs)

    async def befriend(self, a: int, b: int) -> datetime:
        """``a`` asks (once friend-service knows ``b``), ``b`` accepts; the friendship's start."""

        async def asked() -> httpx.Response | None:
            response = await self.call("POST", "/friends/requests", a, json={"user_id": b})
            return response if response.status_code == 201 else None  # 404/503 until b's registration is in

        request = await eventually(asked, "friend-service to be asked", interval=0.1)
        accepted = await self.call("POST", f"/friends/requests/{request.json()['id']}/accept", b)
        assert accepted.status_code == 200, accepted.text
        relation = await self.call("GET", RELATIONSHIPS_PATH, a, params={"user_ids": [b]})
        return datetime.fromisoformat(relation.json()["items"][0]["friends_since"])


@pytest.fixture(scope="module")
async def friend_service(keys: Keys, redis_url: str) -> AsyncIterator[FriendService]:
    database = await databases.create_database("test_chat_friendfx")
    broker = Broker().start()
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": database,
        "RUN_MIGRATIONS_ON_START": "true",
        "REDIS_URL": redis_url.rsplit("/", 1)[0] + "/15",
        "KAFKA_BOOTSTRAP": broker.bootstrap,
        "KAFKA_ENABLE_IDEMPOTENCE": "false",
        "JWT_PUBLIC_KEY": keys.public_pem,
        "JWT_PUBLIC_KEY_ID": keys.kid,
        "USER_SERVICE_URL": "http://127.0.0.1:9",  # every user it needs is registered through its events
        "LOG_LEVEL": "WARNING",
    }
    try:
        async with service_process(FRIEND_SERVICE_DIR, env) as url:
            yield FriendService(url, broker.bootstrap, keys)
    finally:
        broker.stop()
        await databases.drop_database(database)


@pytest.fixture
async def directory(app: StartedApp[State]) -> AsyncIterator[Any]:
    """Point chat-service's friend directory at an address for one test."""
    original = app.state
    made: list[FriendDirectory] = []

    def point(url: str, timeout_s: float = 2.0, threshold: int = 3) -> FriendDirectory:
        made.append(FriendDirectory(url, timeout_s, threshold, open_s=30.0))
        app.state = dataclasses.replace(original, friend_directory=made[-1])
        return made[-1]

    yield point
    app.state = original
    for each in made:
        await each.close()


@pytest.fixture
def friends(friend_service: FriendService, directory: Any) -> FriendService:
    """The real friend-service, which chat-service asks to confirm its refusals."""
    directory(friend_service.url)
    return friend_service


def confirms(metrics: str, result: str) -> float:
    prefix = f'chat_permission_confirms_total{{result="{result}"}}'
    return sum(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(prefix))


async def test_a_friendship_accepted_a_moment_ago_opens_a_direct_room(
    state: State, client: httpx.AsyncClient, keys: Keys, friends: FriendService
) -> None:
    pairs = [(new_user(), new_user()) for _ in range(20)]
    await friends.register(*(b for _, b in pairs))
    before = (await client.get("/metrics")).text
    for a, b in pairs:
        since = await friends.befriend(a, b)
        opened = await client.post("/rooms", json={"type": "direct", "member_ids": [b]}, headers=keys.headers(a))
        assert opened.status_code == 201, opened.text
        # The confirmed friendship is in the replica, versioned as its FriendRequestAccepted would be …
        async with state.sessionmaker() as session:
            row = await session.get(Friendship, (min(a, b), max(a, b)))
        assert row is not None and row.active and row.updated_at == since
    # … so the next checks are local.
    for a, b in pairs[:5]:
        group = await client.post(
            "/rooms", json={"type": "group", "name": "g", "member_ids": [b]}, headers=keys.headers(a)
        )
        assert group.status_code == 201, group.text
    after = (await client.get("/metrics")).text
    assert confirms(after, "granted") == confirms(before, "granted") + len(pairs)


async def test_group_members_befriended_a_moment_ago_can_be_invited(
    client: httpx.AsyncClient, keys: Keys, friends: FriendService
) -> None:
    owner, first, second, late, stranger = (new_user() for _ in range(5))
    await friends.register(first, second, late, stranger)
    await friends.befriend(owner, first)
    await friends.befriend(owner, second)
    created = await client.post(
        "/rooms", json={"type": "group", "name": "new", "member_ids": [first, second]}, headers=keys.headers(owner)
    )
    assert created.status_code == 201, created.text
    room = created.json()["id"]

    await friends.befriend(owner, late)
    invited = await client.post(f"/rooms/{room}/members", json={"user_id": late}, headers=keys.headers(owner))
    assert invited.status_code == 201, invited.text
    assert sorted(invited.json()["member_ids"]) == sorted([owner, first, second, late])
    # friend-service confirms a refusal: still 403.
    refused = await client.post(f"/rooms/{room}/members", json={"user_id": stranger}, headers=keys.headers(owner))
    assert refused.status_code == 403
    mixed = await client.post(
        "/rooms", json={"type": "group", "name": "x", "member_ids": [late, stranger]}, headers=keys.headers(owner)
    )
    assert mixed.status_code == 403 and str(stranger) in mixed.json()["detail"]


async def test_unblock_and_befriend_again_reopens_the_conversation(
    state: State, client: httpx.AsyncClient, keys: Keys, friends: FriendService
) -> None:
    a, b = new_user(), new_user()
    await friends.register(a, b)
    await friends.befriend(a, b)
    room = await dm(client, keys, a, b)
    # a blocks b; chat-service's replica hears of it (friend-service's own events stay on its broker).
    assert (await friends.call("POST", "/blocks", a, json={"user_id": b})).status_code == 201
    await apply(state, UserBlocked(blocker_id=a, blocked_id=b, at=now()))
    blocked = await client.post(f"/rooms/{room}/messages", json={"content": "x"}, headers=keys.headers(b))
    assert blocked.status_code == 403  # the replica's refusal, confirmed
    assert (
        await client.post("/rooms", json={"type": "direct", "member_ids": [b]}, headers=keys.headers(a))
    ).status_code == 403

    # a lifts the block and they are friends again; the replica still has the block.
    assert (await friends.call("DELETE", f"/blocks/{b}", a)).status_code == 204
    await friends.befriend(b, a)
    reopened = await client.post("/rooms", json={"type": "direct", "member_ids": [b]}, headers=keys.headers(a))
    assert reopened.status_code == 200 and reopened.json()["id"] == room
    await send(client, keys, b, room, "hello again")


async def test_a_confirmation_never_undoes_a_newer_event(state: State) -> None:
    from datetime import timedelta

    from app.repositories.permissions import PermissionRepository
    from chat_shared.db import commit
    from chat_shared.events.friend import FriendRemoved, FriendRequestAccepted

    a, b = new_user(), new_user()
    start = now()

    async def confirm(at: datetime) -> None:
        async with state.sessionmaker() as session:
            await PermissionRepository(session).confirm_friendship(a, b, at)
            await commit(session)

    async def friends() -> bool:
        async with state.sessionmaker() as session:
            return await PermissionRepository(session).are_friends(a, b)

    await confirm(start)  # no row yet: inserted
    assert await friends()
    # Its own accept event arrives late: same version, same state.
    await apply(state, FriendRequestAccepted(request_id=1, requester_id=a, addressee_id=b, at=start))
    assert await friends()
    # An older end (of an earlier friendship) is ignored; a newer one wins …
    await apply(state, FriendRemoved(user_id=a, friend_id=b, at=start - timedelta(seconds=1)))
    assert await friends()
    await apply(state, FriendRemoved(user_id=a, friend_id=b, at=start + timedelta(seconds=1)))
    assert not await friends()
    # … and a confirmation read before that end cannot bring the friendship back.
    await confirm(start)
    assert not await friends()
    await confirm(start + timedelta(seconds=2))  # a later friendship does
    assert await friends()


@pytest.fixture
async def silent_server() -> AsyncIterator[tuple[str, list[asyncio.StreamWriter]]]:
    """Accepts connections and never answers: a hung friend-service; the list holds its connections."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", held
    server.close()
    for writer in held:
        writer.close()


async def test_with_friend_service_down_the_refusal_stands(
    client: httpx.AsyncClient, keys: Keys, directory: Any
) -> None:
    closed = directory("http://127.0.0.1:9", threshold=2)  # nothing listens: connections are refused
    a, b = new_user(), new_user()
    before = (await client.get("/metrics")).text
    for _ in range(3):
        refused = await client.post("/rooms", json={"type": "direct", "member_ids": [b]}, headers=keys.headers(a))
        assert refused.status_code == 403
    assert closed.breaker.is_open
    after = (await client.get("/metrics")).text
    assert confirms(after, "error") == confirms(before, "error") + 2
    assert confirms(after, "circuit_open") == confirms(before, "circuit_open") + 1


async def test_a_hung_friend_service_is_waited_for_a_bounded_time(
    client: httpx.AsyncClient, keys: Keys, directory: Any, silent_server: tuple[str, list[asyncio.StreamWriter]]
) -> None:
    url, connections = silent_server
    hung = directory(url, timeout_s=0.3, threshold=2)
    a, b = new_user(), new_user()

    async def open_room() -> int:
        response = await client.post("/rooms", json={"type": "direct", "member_ids": [b]}, headers=keys.headers(a))
        return response.status_code

    for attempt in (1, 2):
        assert await asyncio.wait_for(open_room(), timeout=10) == 403  # the timeout, not the server, ends it
        assert len(connections) == attempt
    assert hung.breaker.is_open
    assert await asyncio.wait_for(open_room(), timeout=10) == 403
    assert len(connections) == 2  # the open circuit does not ask
