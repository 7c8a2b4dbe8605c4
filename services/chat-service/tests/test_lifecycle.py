"""Process and stream lifecycle: a maximum lifetime, shutdown closing every stream so clients reconnect elsewhere,
and the garbage-collector settings start-up leaves behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.core.state import State
from app.factory import create_app
from chat_shared.testing.fixtures import StartedApp, asgi_client, started_app
from chat_shared.testing.metrics import scrape
from chat_shared.testing.sse import open_stream
from chat_shared.testing.tokens import TestKeys as Keys
from chat_shared.testing.waiting import HANG_GUARD_S
from tests.support import UvicornServer, new_user


@pytest.fixture(scope="module")
async def short_lived(make_settings: Any) -> AsyncIterator[tuple[StartedApp[State], UvicornServer]]:
    """An app whose streams live about a second (no broker needed for this)."""
    settings = make_settings(kafka_bootstrap="127.0.0.1:1", sse_heartbeat_s=0.2, sse_max_lifetime_s=1.0)
    async for started in started_app(create_app(settings), State):
        srv = UvicornServer(started)
        await srv.start()
        try:
            yield started, srv
        finally:
            await srv.stop()


async def _closed(client: httpx.AsyncClient, reason: str) -> float:
    return (await scrape(client)).value("chat_sse_streams_closed_total", reason=reason)


async def test_streams_end_at_their_maximum_lifetime(
    short_lived: tuple[StartedApp[State], UvicornServer], keys: Keys
) -> None:
    app, srv = short_lived
    async with asgi_client(app) as client:
        before = await _closed(client, "lifetime")
        async with open_stream(srv.url, headers=keys.headers(new_user())) as sse:
            await asyncio.wait_for(sse.ended.wait(), HANG_GUARD_S)
        assert await _closed(client, "lifetime") == before + 1


async def test_shutdown_closes_every_stream(short_lived: tuple[StartedApp[State], UvicornServer], keys: Keys) -> None:
    started, srv = short_lived
    async with (
        open_stream(srv.url, headers=keys.headers(new_user())) as one,
        open_stream(srv.url, headers=keys.headers(new_user())) as two,
    ):
        started.state.hub.request_shutdown()  # what SIGTERM does through uvicorn's handle_exit
        await asyncio.wait_for(asyncio.gather(one.ended.wait(), two.ended.wait()), HANG_GUARD_S)
    async with open_stream(srv.url, headers=keys.headers(new_user()), expect=503):
        pass  # a closing process refuses new streams: the client retries another replica


async def test_start_up_keeps_full_collections_off_the_request_path(app: StartedApp[State]) -> None:
    """After start-up, its objects are frozen and full collections are ten times rarer (see
    chat_shared.runtime.freeze_startup_heap: 200 connects/s had a 125 ms p99 from full collections)."""
    import gc

    from chat_shared.runtime import FULL_COLLECTION_AFTER

    assert gc.get_freeze_count() > 10_000
    assert gc.get_threshold()[2] == FULL_COLLECTION_AFTER == 100
