"""Replicas built from other services' events: friendships, blocks (friend.events), names (user.events).

Each row remembers the time of the event that last changed it, and an older event never overwrites a
newer one, so a redelivered or reordered event cannot resurrect a friendship or lift a block.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from chat_shared.db import Base, BigId, UTCDateTime


class Friendship(Base):
    """The friendship state of a pair (``user_low`` < ``user_high``)."""

    __tablename__ = "friendships"

    user_low: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_high: Mapped[int] = mapped_column(BigId, primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Block(Base):
    """Whether ``blocker_id`` blocks ``blocked_id`` (each direction is its own row)."""

    __tablename__ = "blocks"

    blocker_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    blocked_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserReplica(Base):
    """Public names of users, for display; last writer (by ``updated_at``) wins."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    username: Mapped[str] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(50))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
