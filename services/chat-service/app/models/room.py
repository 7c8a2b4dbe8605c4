"""Tables of ``chat_db``: rooms and their members (with read positions)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from chat_shared.db import Base, BigId, UTCDateTime, utcnow
from chat_shared.events.chat import NotifyLevel, RoomRole

DIRECT = "direct"
GROUP = "group"

OWNER = RoomRole.OWNER.value
ADMIN = RoomRole.ADMIN.value
MEMBER = RoomRole.MEMBER.value
NOTIFY_ALL = NotifyLevel.ALL.value


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
    """Membership: the member's role (group rooms), read position and own settings for the room.

    ``role`` is ``owner`` (exactly one per group room), ``admin`` or ``member``; a direct room's two members
    are stored as ``member`` and shown without a role. ``muted_until`` and ``notify`` steer push and e-mail,
    never the stream.
    """

    __tablename__ = "room_members"
    __table_args__ = (Index("ix_room_members_user", "user_id", "room_id"),)

    room_id: Mapped[int] = mapped_column(BigId, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    last_read_seq: Mapped[int] = mapped_column(BigId, default=0)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    role: Mapped[str] = mapped_column(String(10), default=MEMBER, server_default=MEMBER)
    muted_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, default=None)
    notify: Mapped[str] = mapped_column(String(10), default=NOTIFY_ALL, server_default=NOTIFY_ALL)
