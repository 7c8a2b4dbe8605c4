"""Tables of ``friend_db``: pair locks, requests, friendships, blocks and the replica of users.

Friendships are stored as a pair of rows (one per direction) so that "my friends" is one primary-key
range scan; both rows are written and deleted in one transaction. Every change to a pair first takes
the pair's row lock in ``friend_pairs`` (see ``FriendRepository.lock_pair``), and the constraints below
are the backstop should a code path ever forget it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from chat_shared.db import Base, BigId, UTCDateTime, utcnow


class RequestStatus(StrEnum):
    """A friend request's lifecycle: pending → accepted | rejected | cancelled."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


def pair_key(a: int, b: int) -> str:
    """``"low:high"``: the same for both directions of a pair."""
    low, high = sorted((a, b))
    return f"{low}:{high}"


class FriendPair(Base):
    """One row per pair of users that ever interacted: the lock that serialises changes to the pair."""

    __tablename__ = "friend_pairs"

    user_low: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    user_high: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer, default=0)


class FriendRequest(Base):
    """A request; ``pending_pair`` is the pair key while pending and NULL after, so at most one request
    per pair (in either direction) can be pending — enforced by the unique index."""

    __tablename__ = "friend_requests"
    __table_args__ = (
        Index("ix_friend_requests_incoming", "addressee_id", "status", "id"),
        Index("ix_friend_requests_outgoing", "requester_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    requester_id: Mapped[int] = mapped_column(BigId)
    addressee_id: Mapped[int] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.PENDING.value)
    pending_pair: Mapped[str | None] = mapped_column(String(41), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Friendship(Base):
    """One direction of a friendship; the friendship exists iff both rows exist."""

    __tablename__ = "friendships"

    user_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    friend_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    since: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Block(Base):
    """``blocker_id`` blocked ``blocked_id`` (each side may block the other: two rows)."""

    __tablename__ = "blocks"

    blocker_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    blocked_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReplicaUser(Base):
    """What friend-service knows of a user, from ``user.events`` (or a fallback lookup)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    username: Mapped[str] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(50))
    avatar_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    #: The profile version this row holds; an event only overwrites it with a newer one.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
