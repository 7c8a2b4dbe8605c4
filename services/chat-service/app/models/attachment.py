"""The ``attachments`` table: files clients upload straight to the object store for a room."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from chat_shared.db import Base, BigId, UTCDateTime, utcnow


class AttachmentState(StrEnum):
    """``pending``: signed, maybe uploaded, used by no message; ``attached``: a message carries it;
    ``released``: its message was deleted, its objects go after the grace period."""

    PENDING = "pending"
    ATTACHED = "attached"
    RELEASED = "released"


def object_key(room_id: int, attachment_id: str) -> str:
    """Where the uploaded file lives in the bucket."""
    return f"rooms/{room_id}/{attachment_id}"


def thumbnail_key(room_id: int, attachment_id: str) -> str:
    """Where an image's thumbnail lives."""
    return f"rooms/{room_id}/{attachment_id}.thumb.webp"


class Attachment(Base):
    """One file of a room, asked for by ``uploader_id``; the declared name, type and size are what the store
    holds the upload to (the signature) and what the send verifies."""

    __tablename__ = "attachments"
    __table_args__ = (
        Index("ix_attachments_sweep", "state", "created_at"),
        Index("ix_attachments_released", "state", "released_at"),
    )

    #: 32 hex characters: unguessable, and part of the object's key.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    room_id: Mapped[int] = mapped_column(BigId)
    uploader_id: Mapped[int] = mapped_column(BigId)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigId)
    state: Mapped[str] = mapped_column(String(10), default=AttachmentState.PENDING)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The message that carries it, once sent.
    message_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
