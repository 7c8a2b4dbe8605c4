"""The delivery queues: pushes and mails decided by a consumer (in the transaction that records the event as
processed) and sent by a dispatcher. A row is deleted once sent or given up; ``claim`` names the dispatcher
pass that is sending it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chat_shared.db import Base, BigId, UTCDateTime, utcnow


class QueueStatus(StrEnum):
    """``pending`` takes more messages (collapse), ``retry`` waits out a backoff, ``sending`` is claimed."""

    PENDING = "pending"
    RETRY = "retry"
    SENDING = "sending"


class _Queued:
    status: Mapped[str] = mapped_column(String(8), default=QueueStatus.PENDING.value)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Push(_Queued, Base):
    """One push to one subscription, covering ``count`` messages of a room (the latest one's fields)."""

    __tablename__ = "pushes"
    __table_args__ = (
        Index("ix_pushes_due", "status", "due_at"),
        Index("ix_pushes_open", "user_id", "room_id", "status"),
        Index("ix_pushes_claim", "claim"),
        Index("ix_pushes_subscription", "subscription_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(BigId)
    user_id: Mapped[int] = mapped_column(BigId)
    room_id: Mapped[int] = mapped_column(BigId)
    count: Mapped[int] = mapped_column(Integer, default=1)
    message_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    sender_id: Mapped[int] = mapped_column(BigId)
    sender_name: Mapped[str] = mapped_column(String(50))
    preview: Mapped[str | None] = mapped_column(String(400), nullable=True)
    #: When the latest message it covers was sent (for the push delay metric).
    message_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MailKind(StrEnum):
    """The mails notification-service sends."""

    WELCOME = "welcome"


class Mail(_Queued, Base):
    """One mail to send; at most one of each kind per user (a replayed event adds nothing)."""

    __tablename__ = "mails"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", name="uq_mails_user_kind"),
        Index("ix_mails_due", "status", "due_at"),
        Index("ix_mails_claim", "claim"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(16))
    to_address: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(8))
    display_name: Mapped[str] = mapped_column(String(50))
    username: Mapped[str] = mapped_column(String(20))
