"""A Server-Sent Events reader for tests: the stream is read in the background, events queue up as they
arrive, and a test takes them in order.

The server's first comment, ``: connected``, means the stream is registered: anything appended after it
reaches this reader, so a test may act right after :func:`open_stream` returns. Comments (the
``connected`` line, heartbeats) are kept apart from events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from chat_shared.testing.waiting import HANG_GUARD_S


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event; ``data`` is parsed JSON when it is JSON."""

    id: str | None
    event: str
    data: Any


@dataclass
class SSE:
    """An open stream read incrementally."""

    response: httpx.Response
    events: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    comments: list[str] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(self) -> None:
        """Parse the body into :attr:`events` and :attr:`comments` until it ends."""
        fields: dict[str, str] = {}
        data: list[str] = []
        try:
            async for line in self.response.aiter_lines():
                if line == "":
                    if data or "event" in fields:
                        event = Event(fields.get("id"), fields.get("event", "message"), _parse("\n".join(data)))
                        await self.events.put(event)
                    fields, data = {}, []
                elif line.startswith(":"):
                    comment = line[1:].strip()
                    self.comments.append(comment)
                    if comment == "connected":
                        self.connected.set()
                else:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "data":
                        data.append(value)
                    else:
                        fields[name] = value
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()

    async def next(self, timeout: float = HANG_GUARD_S) -> Event:
        """The next event."""
        try:
            return await asyncio.wait_for(self.events.get(), timeout)
        except TimeoutError:
            raise AssertionError(f"no event on the stream within {timeout:g}s") from None

    async def take(self, n: int) -> list[Event]:
        """The next ``n`` events."""
        return [await self.next() for _ in range(n)]

    async def collect_until(
        self, predicate: Callable[[Event], bool], what: str = "the event", timeout: float = HANG_GUARD_S
    ) -> list[Event]:
        """The events up to and including the first one matching ``predicate``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen: list[Event] = []
        while True:
            try:
                event = await asyncio.wait_for(self.events.get(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise AssertionError(
                    f"no {what} on the stream within {timeout:g}s; saw {[(e.event, e.id) for e in seen]}"
                ) from None
            seen.append(event)
            if predicate(event):
                return seen

    async def until(
        self, predicate: Callable[[Event], bool], what: str = "the event", timeout: float = HANG_GUARD_S
    ) -> Event:
        """The first event matching ``predicate``; the ones before it are dropped."""
        return (await self.collect_until(predicate, what, timeout))[-1]

    def assert_quiet(self) -> None:
        """Nothing is waiting to be taken."""
        pending = []
        while not self.events.empty():
            pending.append(self.events.get_nowait())
        assert not pending, f"unexpected events: {pending}"


def _parse(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


@contextlib.asynccontextmanager
async def open_stream(
    target: httpx.AsyncClient | str,
    path: str = "/stream",
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    expect: int = 200,
) -> AsyncIterator[SSE]:
    """Open ``GET path`` on ``target`` (a client, or a base URL) and read it in the background.

    With ``expect=200`` it returns once the server said ``connected``; with any other status it only
    checks the status (there is nothing to read).
    """
    async with contextlib.AsyncExitStack() as stack:
        client = (
            target
            if isinstance(target, httpx.AsyncClient)
            else await stack.enter_async_context(httpx.AsyncClient(base_url=target, trust_env=False))
        )
        response = await stack.enter_async_context(
            client.stream(
                "GET", path, headers=headers or {}, params=params or {}, timeout=httpx.Timeout(10.0, read=None)
            )
        )
        assert response.status_code == expect, f"{path} answered {response.status_code}, expected {expect}"
        sse = SSE(response)
        if expect != 200:
            yield sse
            return
        reader = asyncio.create_task(sse.read())
        try:
            connected = asyncio.create_task(sse.connected.wait())
            await asyncio.wait({connected, reader}, timeout=HANG_GUARD_S, return_when=asyncio.FIRST_COMPLETED)
            connected.cancel()
            assert sse.connected.is_set(), f"{path} ended or stayed silent before ': connected'"
            yield sse
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
