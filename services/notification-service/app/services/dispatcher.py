"""The dispatchers: claim due rows of a queue, send each on its own task, settle the results in batches.

A slow or failing push service never holds up the others: each row is sent on its own task, at most
``push_concurrency_per_host`` at once per host and ``push_concurrency`` in all, and a row that must be
retried (429, 5xx, timeout) goes back to the queue with a due time (exponential backoff with jitter, never
earlier than the ``Retry-After`` it was given) instead of waiting in place. Results are written in one
transaction per batch. A process renews the claims it still works on; a row claimed by a process that
died is offered again after ``dispatch_claim_timeout_s``: that push may then reach the push service twice,
which its ``Topic`` header (Web Push) or collapse key (FCM) turns into one notification on the device.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Generic

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.repositories.queues import Q, Queue
from app.services.push_result import Outcome, PushResult
from chat_shared.db import commit

log = structlog.get_logger("notification.dispatcher")


class Dispatcher(ABC, Generic[Q]):
    """Sends the rows of one queue table."""

    #: What the logs and metrics call this queue.
    name = "queue"

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        model: type[Q],
        *,
        concurrency: int,
        per_host: int,
        batch: int,
        poll_s: float,
        claim_timeout_s: float,
        max_attempts: int,
        backoff_s: float,
        backoff_max_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.model: type[Q] = model
        self.batch = batch
        self.poll_s = poll_s
        self.claim_timeout_s = claim_timeout_s
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.clock = clock
        self._slots = asyncio.Semaphore(concurrency)
        self._per_host = per_host
        self._hosts: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(self._per_host))
        #: Rows claimed and not yet settled; claiming stops at 4× the concurrency.
        self._in_flight = 0
        self._max_in_flight = 4 * concurrency
        self._results: asyncio.Queue[tuple[Q, PushResult]] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_release = 0.0
        #: This process's claims with rows not yet settled (renewed so they never look abandoned).
        self._claims: dict[str, int] = {}

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def wake(self) -> None:
        """Look for due rows now (e.g. the clock moved)."""
        self._wake.set()

    # --- what each queue defines -------------------------------------------------------------------

    @abstractmethod
    async def prepare(self, session: AsyncSession, rows: list[Q]) -> None:
        """Load what sending ``rows`` needs, in the claiming transaction."""

    @abstractmethod
    def host(self, row: Q) -> str:
        """The server ``row`` goes to (its concurrency limit)."""

    @abstractmethod
    async def deliver(self, row: Q) -> PushResult:
        """Send one row; never raises."""

    @abstractmethod
    async def settle(self, session: AsyncSession, results: list[tuple[Q, PushResult]]) -> None:
        """Apply outcomes beyond the queue's own (e.g. delete gone subscriptions) and count them."""

    # --- the loop ------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Claim and send until cancelled; a failing database is retried with backoff."""
        writer = asyncio.create_task(self._write_results(), name=f"{self.name}-results")
        delay = 0.5
        try:
            while True:
                try:
                    claimed = await self.pass_once()
                    delay = 0.5
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("dispatch_failed", queue=self.name, error=repr(exc)[:200], retry_in_s=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
                    continue
                if not claimed:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
        finally:
            writer.cancel()
            for task in list(self._tasks):
                task.cancel()

    async def pass_once(self) -> int:
        """Renew this process's claims and release abandoned ones (now and then), claim what is due (as much
        as there is room for) and start sending it; the number claimed."""
        room = min(self.batch, self._max_in_flight - self._in_flight)
        housekeeping = self.clock() - self._last_release >= self.claim_timeout_s / 4
        if room <= 0 and not housekeeping:
            return 0
        async with self.sessionmaker() as session:
            queue = Queue(session, self.model)
            if housekeeping:
                self._last_release = self.clock()
                await queue.touch(list(self._claims), self.now())
                released = await queue.release_stale(self.now() - timedelta(seconds=self.claim_timeout_s))
                if released:
                    log.warning("dispatch_released_stale_claims", queue=self.name, rows=released)
            rows = await queue.claim_due(self.now(), room) if room > 0 else []
            await self.prepare(session, rows)
            await commit(session)
        self._in_flight += len(rows)
        if rows and rows[0].claim is not None:
            self._claims[rows[0].claim] = len(rows)
        for row in rows:
            task = asyncio.create_task(self._send(row))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(rows)

    async def _send(self, row: Q) -> None:
        try:
            async with self._hosts[self.host(row)], self._slots:
                result = await self.deliver(row)
        except Exception as exc:  # a bug must not lose the row: it is retried
            log.error("dispatch_send_crashed", queue=self.name, error=repr(exc)[:200])
            result = PushResult(Outcome.RETRY)
        await self._results.put((row, result))

    async def _write_results(self) -> None:
        while True:
            batch = [await self._results.get()]
            while not self._results.empty() and len(batch) < 1000:
                batch.append(self._results.get_nowait())
            delay = 0.2
            while True:
                try:
                    await self._apply(batch)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("dispatch_settle_failed", queue=self.name, error=repr(exc)[:200], retry_in_s=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
            self._in_flight -= len(batch)
            for row, _ in batch:
                if row.claim is not None and row.claim in self._claims:
                    self._claims[row.claim] -= 1
                    if self._claims[row.claim] <= 0:
                        del self._claims[row.claim]
            self._wake.set()

    def retry_delay(self, attempts: int, retry_after_s: float | None) -> float:
        """Exponential backoff with full jitter on its upper half, never shorter than ``Retry-After``."""
        base = min(self.backoff_s * 2**attempts, self.backoff_max_s)
        return max(retry_after_s or 0.0, base / 2 + random.random() * base / 2)

    async def _apply(self, batch: list[tuple[Q, PushResult]]) -> None:
        async with self.sessionmaker() as session:
            queue = Queue(session, self.model)
            finished = []
            settled: list[tuple[Q, PushResult]] = []
            for row, result in batch:
                if result.outcome == Outcome.RETRY and row.attempts + 1 < self.max_attempts:
                    delay = self.retry_delay(row.attempts, result.retry_after_s)
                    await queue.retry(row.id, self.now() + timedelta(seconds=delay))
                    settled.append((row, result))
                else:
                    finished.append(row.id)
                    if result.outcome == Outcome.RETRY:
                        result = PushResult(Outcome.FAILED, status=result.status)
                    settled.append((row, result))
            await queue.done(finished)
            await self.settle(session, settled)
            await commit(session)
