"""Edits, deletions and reactions write Mongo before their event commits (EVT-1): when that commit fails, the
change stays, and the client's retry must still publish it — the state holds, so the event is written again."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.state import State
from chat_shared.testing.broker import read_events
from chat_shared.testing.fixtures import StartedApp
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import befriend, dm, new_user, send


class InjectedCommitFailure(Exception):
    """What the database answers when a commit is lost."""


@contextlib.contextmanager
def failing_commit(engine: AsyncEngine, event_type: str, message_id: str) -> Iterator[list[str]]:
    """The first commit of a transaction that wrote an ``event_type`` outbox row about ``message_id`` fails."""
    sync = engine.sync_engine
    failed: list[str] = []

    def mark(conn: Connection, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        wanted = event_type in str(parameters) and message_id in str(parameters)
        if statement.lstrip().lower().startswith("insert into outbox") and wanted:
            conn.info["fail_commit"] = True

    def commit(conn: Connection) -> None:
        if conn.info.pop("fail_commit", False) and not failed:
            failed.append(event_type)
            raise InjectedCommitFailure("the commit was lost")

    def rollback(conn: Connection) -> None:
        conn.info.pop("fail_commit", None)

    listeners: list[tuple[str, Callable[..., Any]]] = [
        ("before_cursor_execute", mark),
        ("commit", commit),
        ("rollback", rollback),
    ]
    for name, fn in listeners:
        event.listen(sync, name, fn)
    try:
        yield failed
    finally:
        for name, fn in listeners:
            event.remove(sync, name, fn)


@pytest.fixture
async def client(app: StartedApp[State]) -> AsyncIterator[httpx.AsyncClient]:
    """A client that gets the 500 of a failed commit instead of the exception."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _published(bootstrap: str, event_type: str, message_id: str, count: int = 1) -> list[dict[str, Any]]:
    """The payloads of ``event_type`` about the message on ``message.events``, once there are ``count``."""

    def matching(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            e["payload"]["message"]
            for e in events
            if e.get("event_type") == event_type and e["payload"]["message"]["id"] == message_id
        ]

    return matching(await read_events(bootstrap, "message.events", lambda seen: len(matching(seen)) >= count))


async def _message(state: State, client: httpx.AsyncClient, keys: Keys) -> tuple[int, int, int, dict[str, Any]]:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    return a, b, room, await send(client, keys, a, room, "soon changed")


@pytest.mark.parametrize(
    ("method", "path", "event_type", "expected"),
    [
        ("DELETE", "", "MessageDeleted", lambda user: {"deleted": True, "content": None, "version": 2}),
        ("PATCH", "", "MessageEdited", lambda user: {"content": "changed", "version": 2}),
        ("PUT", "/reactions/👍", "ReactionsChanged", lambda user: {"reactions": {"👍": [user]}, "version": 2}),
    ],
)
async def test_a_retry_publishes_the_change_whose_commit_failed(
    state: State,
    client: httpx.AsyncClient,
    keys: Keys,
    kafka_bootstrap: str,
    method: str,
    path: str,
    event_type: str,
    expected: Callable[[int], dict[str, Any]],
) -> None:
    a, _, room, msg = await _message(state, client, keys)
    url = f"/rooms/{room}/messages/{msg['id']}{path}"
    body = {"content": "changed"} if method == "PATCH" else None
    with failing_commit(state.engine, event_type, msg["id"]) as failed:
        lost = await client.request(method, url, json=body, headers=keys.headers(a))
    assert lost.status_code == 500 and failed == [event_type]
    retried = await client.request(method, url, json=body, headers=keys.headers(a))
    assert retried.status_code in (200, 204), retried.text
    (published,) = await _published(kafka_bootstrap, event_type, msg["id"])
    assert {k: published[k] for k in expected(a)} == expected(a)


async def test_a_retried_reaction_removal_publishes_the_removal(
    state: State, client: httpx.AsyncClient, keys: Keys, kafka_bootstrap: str
) -> None:
    _, b, room, msg = await _message(state, client, keys)
    url = f"/rooms/{room}/messages/{msg['id']}/reactions/👍"
    assert (await client.put(url, headers=keys.headers(b))).status_code == 200
    with failing_commit(state.engine, "ReactionsChanged", msg["id"]) as failed:
        lost = await client.delete(url, headers=keys.headers(b))
    assert lost.status_code == 500 and failed
    assert (await client.delete(url, headers=keys.headers(b))).status_code == 200
    added, removed = await _published(kafka_bootstrap, "ReactionsChanged", msg["id"], count=2)
    assert (added["reactions"], added["version"]) == ({"👍": [b]}, 2)
    assert (removed["reactions"], removed["version"]) == ({}, 3)
