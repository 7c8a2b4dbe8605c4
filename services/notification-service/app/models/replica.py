"""What notification-service knows of other services' data, replicated from their events only: users (names,
e-mail, locale), room members with their own settings, and blocks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from chat_shared.db import Base, BigId, UTCDateTime


class ReplicaUser(Base):
    """A user as ``user.events`` describe them; ``updated_at`` orders updates (newer wins)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    username: Mapped[str] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Member(Base):
    """A member of a room with their own settings for it (``chat.events``)."""

    __tablename__ = "members"
    __table_args__ = (Index("ix_members_user", "user_id"),)

    room_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    muted_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    notify: Mapped[str] = mapped_column(String(8), default="all")


class Block(Base):
    """``blocker_id`` blocked ``blocked_id`` (``friend.events``)."""

    __tablename__ = "blocks"
    __table_args__ = (Index("ix_blocks_blocked", "blocked_id", "blocker_id"),)

    blocker_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    blocked_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
