"""Events of the user context: ``user.events`` and ``user.online_status``, keyed by user id."""

from __future__ import annotations

from datetime import datetime

from chat_shared.events.base import DomainEvent
from chat_shared.events.topics import USER_EVENTS, USER_ONLINE_STATUS


class _UserEvent(DomainEvent):
    user_id: int

    @property
    def key(self) -> int:
        return self.user_id


class UserRegistered(_UserEvent):
    """A new account exists. Never carries email, password or hash."""

    topic = USER_EVENTS

    username: str
    display_name: str
    created_at: datetime


class UserProfileUpdated(_UserEvent):
    """Public profile fields changed; ``updated_at`` orders updates for replicas (last writer wins)."""

    topic = USER_EVENTS

    username: str
    display_name: str
    status_message: str | None = None
    avatar_url: str | None = None
    updated_at: datetime


class UserOnline(_UserEvent):
    """First heartbeat after being offline."""

    topic = USER_ONLINE_STATUS

    at: datetime


class UserOffline(_UserEvent):
    """No heartbeat for the presence TTL."""

    topic = USER_ONLINE_STATUS

    at: datetime
