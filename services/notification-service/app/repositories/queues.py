"""The push and mail queues: what the consumers add and the dispatchers claim, send and settle."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.delivery import Mail, Push, QueueStatus

Q = TypeVar("Q", Push, Mail)
DUE = (QueueStatus.PENDING.value, QueueStatus.RETRY.value)


class Queue(Generic[Q]):
    """Claiming and settling rows of one queue table."""

    def __init__(self, session: AsyncSession, model: type[Q]) -> None:
        self.session = session
        self.model: type[Q] = model

    async def claim_due(self, now: datetime, limit: int) -> list[Q]:
        """Up to ``limit`` rows due by ``now``, marked as being sent by this pass. Rows another process has
        locked are skipped, so several replicas share the queue without sending a row twice."""
        m = self.model
        ids = list(
            await self.session.scalars(
                select(m.id)
                .where(m.status.in_(DUE), m.due_at <= now)
                .order_by(m.due_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not ids:
            return []
        token = uuid.uuid4().hex
        await self.session.execute(
            update(m)
            .where(m.id.in_(ids), m.status.in_(DUE))
            .values(status=QueueStatus.SENDING.value, claim=token, claimed_at=now)
        )
        return list(await self.session.scalars(select(m).where(m.claim == token)))

    async def next_due(self) -> datetime | None:
        """When the earliest waiting row falls due."""
        m = self.model
        value: datetime | None = await self.session.scalar(select(func.min(m.due_at)).where(m.status.in_(DUE)))
        return value

    async def done(self, ids: Sequence[int]) -> None:
        """Rows sent (or given up): gone from the queue."""
        if ids:
            await self.session.execute(delete(self.model).where(self.model.id.in_(list(ids))))

    async def retry(self, row_id: int, due_at: datetime) -> None:
        """Offer the row again at ``due_at``."""
        m = self.model
        await self.session.execute(
            update(m)
            .where(m.id == row_id)
            .values(status=QueueStatus.RETRY.value, due_at=due_at, attempts=m.attempts + 1, claim=None)
        )

    async def touch(self, claims: Sequence[str], now: datetime) -> None:
        """Renew the claims this process is still working on, so no other process takes their rows over."""
        if claims:
            m = self.model
            await self.session.execute(
                update(m).where(m.claim.in_(list(claims)), m.status == QueueStatus.SENDING.value).values(claimed_at=now)
            )

    async def release_stale(self, claimed_before: datetime) -> int:
        """Rows claimed by a process that died before settling them: offered again."""
        m = self.model
        result = await self.session.execute(
            update(m)
            .where(m.status == QueueStatus.SENDING.value, m.claimed_at < claimed_before)
            .values(status=QueueStatus.RETRY.value, claim=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


class PushQueue(Queue[Push]):
    """The push queue, with the collapse of pushes to one user for one room."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session, Push)

    async def merge(self, room_id: int, user_ids: Sequence[int], values: dict[str, Any]) -> set[int]:
        """Fold a message into the waiting pushes of these users for the room (``count`` + 1, the newest
        message's fields); the users who had one. Rows being sent or waiting out a retry are left alone."""
        if not user_ids:
            return set()
        where = (Push.room_id == room_id, Push.user_id.in_(list(user_ids)), Push.status == QueueStatus.PENDING.value)
        await self.session.execute(update(Push).where(*where).values(count=Push.count + 1, **values))
        return set(await self.session.scalars(select(Push.user_id).where(*where).distinct()))

    async def hold_back(self, user_id: int, room_id: int, after: datetime, until: datetime) -> None:
        """Waiting pushes of the user for the room of a later window than the one due at ``after`` go no
        earlier than ``until`` (the window after a send); the same window's pushes to the user's other
        devices are left alone."""
        await self.session.execute(
            update(Push)
            .where(
                Push.user_id == user_id,
                Push.room_id == room_id,
                Push.status.in_(DUE),
                Push.due_at > after,
                Push.due_at < until,
            )
            .values(due_at=until)
        )

    async def add(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(Push), rows)

    async def delete_subscription(self, subscription_id: int) -> None:
        await self.session.execute(delete(Push).where(Push.subscription_id == subscription_id))

    async def delete_user(self, user_id: int) -> None:
        await self.session.execute(delete(Push).where(Push.user_id == user_id))
