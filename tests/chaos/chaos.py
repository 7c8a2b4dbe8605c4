"""The chaos controller: what it breaks, when, and the windows during which something was broken.

While the clients send: a chat-service process is killed with SIGKILL every ``kill_every_s`` (the two
processes in turn) and started again at once, the next kill waiting until it answers /health, so one
process always serves; the broker is cut for ``cut_s`` twice; Redis is killed once and started again
after ``redis_down_s`` on its append-only file.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from stack import CHAT_NAMES, Stack

from chat_shared.testing.broker import wait_for_port


@dataclass(frozen=True)
class Window:
    """A stretch of time during which something was broken (a killed process until it was healthy again)."""

    what: str
    start: float
    end: float


@dataclass(frozen=True)
class Plan:
    """When each break happens, in seconds after the sends start."""

    kill_every_s: float = 6.0
    broker_cuts_at_s: tuple[float, ...] = (12.0, 48.0)
    cut_s: float = 5.0
    redis_restart_at_s: float = 30.0
    redis_down_s: float = 2.0

    @property
    def last_s(self) -> float:
        """When the last store break has ended: the sends must last longer than this."""
        return max(*(at + self.cut_s for at in self.broker_cuts_at_s), self.redis_restart_at_s + self.redis_down_s)


@dataclass
class Chaos:
    """Runs a :class:`Plan` against a :class:`Stack` and records what it did."""

    stack: Stack
    plan: Plan = field(default_factory=Plan)
    windows: list[Window] = field(default_factory=list)
    kills: list[tuple[float, float]] = field(default_factory=list)  # just before each SIGKILL, once it is gone
    store_breaks_done_at: float | None = None  # when the last store break ended

    def count(self, prefix: str) -> int:
        return sum(w.what.startswith(prefix) for w in self.windows)

    async def run(self, sends_done: asyncio.Event) -> None:
        """Break things until the sends are done (and the store breaks have all happened)."""
        started = time.monotonic()
        stores = asyncio.create_task(self._store_breaks(started))
        try:
            await self._kills(sends_done)
            await stores
        finally:
            stores.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stores

    async def _kills(self, sends_done: asyncio.Event) -> None:
        turn = 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sends_done.wait(), timeout=self.plan.kill_every_s)
            if sends_done.is_set():
                return
            name = CHAT_NAMES[turn % len(CHAT_NAMES)]
            turn += 1
            start = time.monotonic()
            await self.stack.kill_chat(name)
            self.kills.append((start, time.monotonic()))
            await self.stack.restart_chat(name)
            self.windows.append(Window(f"kill {name}", start, time.monotonic()))

    async def _store_breaks(self, started: float) -> None:
        plan = self.plan
        program = [(at, self._cut_broker) for at in plan.broker_cuts_at_s]
        program.append((plan.redis_restart_at_s, self._restart_redis))
        for at, action in sorted(program, key=lambda item: item[0]):
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            await action()
        self.store_breaks_done_at = time.monotonic()

    async def _cut_broker(self) -> None:
        start = time.monotonic()
        await asyncio.to_thread(self.stack.cut_broker)
        await asyncio.sleep(self.plan.cut_s)
        await asyncio.to_thread(self.stack.restore_broker)
        self.windows.append(Window("broker cut", start, time.monotonic()))

    async def _restart_redis(self) -> None:
        redis = self.stack.redis
        start = time.monotonic()
        await asyncio.to_thread(redis.kill)
        await asyncio.sleep(self.plan.redis_down_s)
        await asyncio.to_thread(redis.start)
        await asyncio.to_thread(wait_for_port, "127.0.0.1", redis.port)
        self.windows.append(Window("redis restart", start, time.monotonic()))
