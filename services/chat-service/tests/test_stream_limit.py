"""At most 10 open streams per user, across processes: the 11th closes the user's oldest (CONTRACT §6 bounded
by the issue's limits), telling its client to wait before reconnecting."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.core.state import State
from app.factory import create_app
from chat_shared.testing.fixtures import started_app
from chat_shared.testing.sse import SSE, open_stream
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import UvicornServer, befriend, dm, new_user, send

REPLACED = "closed: a newer stream of this user replaced it"


@pytest.fixture(scope="module")
async def other_process(make_settings: Any) -> AsyncIterator[UvicornServer]:
    """A second chat-service app (its own hub) on the same MySQL, Redis and broker."""
    async for started in started_app(create_app(make_settings()), State):
        server = UvicornServer(started)
        await server.start()
        try:
            yield server
        finally:
            await server.stop()


async def open_many(stack: contextlib.AsyncExitStack, url: str, headers: dict[str, str], n: int) -> list[SSE]:
    return [await stack.enter_async_context(open_stream(url, headers=headers)) for _ in range(n)]


async def all_receive(client: httpx.AsyncClient, keys: Keys, a: int, room: int, streams: list[SSE]) -> None:
    """A message from ``a`` reaches every one of ``streams``: they are all still open."""
    sent = await send(client, keys, a, room, "to every open stream")
    for sse in streams:
        got = await sse.until(lambda e: e.event == "message.created")
        assert got.data["message"]["id"] == sent["id"]
    assert not any(sse.ended.is_set() for sse in streams)


async def test_the_eleventh_stream_closes_the_users_oldest(
    state: State, client: httpx.AsyncClient, server: UvicornServer, keys: Keys
) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    async with contextlib.AsyncExitStack() as stack:
        streams = await open_many(stack, server.url, keys.headers(b), 11)
        await asyncio.wait_for(streams[0].ended.wait(), 10)
        assert REPLACED in streams[0].comments
        await all_receive(client, keys, a, room, streams[1:])


async def test_a_stream_opened_on_another_process_closes_the_oldest_here(
    state: State, client: httpx.AsyncClient, server: UvicornServer, other_process: UvicornServer, keys: Keys
) -> None:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    room = await dm(client, keys, a, b)
    async with contextlib.AsyncExitStack() as stack:
        here = await open_many(stack, server.url, keys.headers(b), 6)
        there = await open_many(stack, other_process.url, keys.headers(b), 5)
        await asyncio.wait_for(here[0].ended.wait(), 10)
        assert REPLACED in here[0].comments
        await all_receive(client, keys, a, room, [*here[1:], *there])
