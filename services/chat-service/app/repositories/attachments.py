"""Queries on ``attachments``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.attachment import Attachment, AttachmentState


class AttachmentRepository:
    """Reads and writes of ``attachments``."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, attachment: Attachment) -> None:
        self.session.add(attachment)

    async def get(self, attachment_id: str) -> Attachment | None:
        return await self.session.get(Attachment, attachment_id)

    async def bind(self, attachment_id: str, message_id: str, width: int | None, height: int | None) -> bool:
        """Attach a pending upload to a message; False when another send took it first."""
        result = await self.session.execute(
            update(Attachment)
            .where(Attachment.id == attachment_id, Attachment.state == AttachmentState.PENDING)
            .values(state=AttachmentState.ATTACHED, message_id=message_id, width=width, height=height)
        )
        return bool(getattr(result, "rowcount", 0))

    async def release(self, message_id: str, at: datetime) -> None:
        """The message was deleted: its attachment's objects may go after the grace period."""
        await self.session.execute(
            update(Attachment)
            .where(Attachment.message_id == message_id, Attachment.state == AttachmentState.ATTACHED)
            .values(state=AttachmentState.RELEASED, released_at=at)
        )

    async def claim_sweepable(self, unused_before: datetime, released_before: datetime, limit: int) -> list[Attachment]:
        """Rows whose objects may be deleted, locked for this transaction; rows another replica's sweep holds
        are skipped rather than waited for."""
        query = (
            select(Attachment)
            .where(
                or_(
                    and_(Attachment.state == AttachmentState.PENDING, Attachment.created_at < unused_before),
                    and_(Attachment.state == AttachmentState.RELEASED, Attachment.released_at < released_before),
                )
            )
            .order_by(Attachment.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self.session.scalars(query)).all())

    async def remove(self, ids: Sequence[str]) -> None:
        await self.session.execute(delete(Attachment).where(Attachment.id.in_(ids)))
