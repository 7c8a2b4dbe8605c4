"""Tables of ``chat_db``: rooms and their members (with read positions)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from chat_shared.db import Base, BigId, UTCDateTime, utcnow

DIRECT = "direct"
GROUP = "group"


def pair_key(a: int, b: int) -> str:
    """``"low:high"``: the one key a direct room between two users can have."""
    low, high = sorted((a, b))
    return f"{low}:{high}"


class Room(Base):
    """A direct or group room. ``last_seq`` is the per-room message counter (see docs, "seq")."""

    __tablename__ = "rooms"
    __table_args__ = (Index("ix_rooms_activity", "last_activity_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(10))
    name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: Direct rooms only: unique, so one direct room per pair is enforced by the database.
    pair_key: Mapped[str | None] = mapped_column(String(41), nullable=True, unique=True)
    created_by: Mapped[int] = mapped_column(BigId)
    last_seq: Mapped[int] = mapped_column(BigId, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RoomMember(Base):
    """Membership and the member's read position."""

    __tablename__ = "room_members"
    __table_args__ = (Index("ix_room_members_user", "user_id", "room_id"),)

    room_id: Mapped[int] = mapped_column(BigId, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    last_read_seq: Mapped[int] = mapped_column(BigId, default=0)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
