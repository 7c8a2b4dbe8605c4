"""The attachment sweeper: deletes uploads no message took within a day, and the files of deleted messages.

Every replica runs it. Each pass claims a batch of rows with ``FOR UPDATE SKIP LOCKED`` — replicas sweeping
at once take different rows, none waits for another — deletes their objects, then the rows, in one
transaction. Deleting an object that is already gone is no error, so a pass interrupted between the two
is simply done again by the next one.

A deleted message's files stay for a grace period (``ATTACHMENT_RELEASE_GRACE_S``, by default the lifetime
of a download URL): a URL minted just before the deletion keeps working until it expires, and no longer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import metrics
from app.models.attachment import AttachmentState, object_key, thumbnail_key
from app.repositories.attachments import AttachmentRepository
from chat_shared.db import utcnow
from chat_shared.storage import ObjectStore

log = structlog.get_logger("app.services.sweeper")


@dataclass
class AttachmentSweeper:
    sessionmaker: async_sessionmaker[AsyncSession]
    store: ObjectStore
    unused_after: timedelta = timedelta(hours=24)
    grace: timedelta = timedelta(minutes=15)
    batch: int = 200
    interval_s: float = 300.0
    clock: Callable[[], datetime] = utcnow

    async def sweep_once(self) -> int:
        """One batch; the number of attachments whose objects were deleted."""
        now = self.clock()
        async with self.sessionmaker() as session, session.begin():
            repo = AttachmentRepository(session)
            rows = await repo.claim_sweepable(now - self.unused_after, now - self.grace, self.batch)
            if not rows:
                return 0
            keys = [k for row in rows for k in (object_key(row.room_id, row.id), thumbnail_key(row.room_id, row.id))]
            await self.store.delete(*keys)
            await repo.remove([row.id for row in rows])
            for row in rows:
                metrics.ATTACHMENTS_SWEPT.labels("unused" if row.state == AttachmentState.PENDING else "deleted").inc()
        return len(rows)

    async def sweep(self) -> int:
        """Batches until nothing is left to sweep."""
        total = 0
        while (done := await self.sweep_once()) > 0:
            total += done
        return total

    async def run(self) -> None:
        """Sweep every ``interval_s`` until cancelled; a failed pass is logged and tried again next time."""
        while True:
            try:
                swept = await self.sweep()
                if swept:
                    log.info("attachments_swept", count=swept)
            except Exception as exc:
                log.warning("attachment_sweep_failed", error=repr(exc)[:200])
            await asyncio.sleep(self.interval_s)
