"""A user's push subscriptions (Web Push endpoints, FCM registration tokens) and preferences."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chat_shared.db import Base, BigId, UTCDateTime, utcnow


class SubscriptionType(StrEnum):
    """How a subscription is reached."""

    WEBPUSH = "webpush"
    FCM = "fcm"


class Subscription(Base):
    """One device or browser of a user. ``target_key`` is the SHA-256 of the endpoint or token: the same
    browser subscribing again updates its row instead of adding one."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("user_id", "target_key", name="uq_subscriptions_user_target"),
        Index("ix_subscriptions_user", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId)
    type: Mapped[str] = mapped_column(String(8))
    target_key: Mapped[str] = mapped_column(String(64))
    #: Web Push: the endpoint URL and the browser's keys (base64url, as the browser gives them).
    endpoint: Mapped[str | None] = mapped_column(Text, nullable=True)
    p256dh: Mapped[str | None] = mapped_column(String(100), nullable=True)
    auth: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: FCM: the registration token.
    token: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The push service's host: the concurrency limit and the metrics are per host.
    host: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Preference(Base):
    """A user's notification preferences; also the row that serialises changes to their subscriptions."""

    __tablename__ = "preferences"

    user_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    show_preview: Mapped[bool] = mapped_column(Boolean, default=True)
