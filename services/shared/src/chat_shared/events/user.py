"""Events of the user context: ``user.events`` and ``user.online_status``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class UserRegistered(_Payload):
    """A new account exists. Never carries email, password or hash."""

    user_id: int
    username: str
    display_name: str
    created_at: datetime


class UserProfileUpdated(_Payload):
    """Public profile fields changed; ``updated_at`` orders updates for replicas (last writer wins)."""

    user_id: int
    username: str
    display_name: str
    status_message: str | None = None
    avatar_url: str | None = None
    updated_at: datetime


class UserOnline(_Payload):
    """First heartbeat after being offline."""

    user_id: int
    at: datetime


class UserOffline(_Payload):
    """No heartbeat for the presence TTL."""

    user_id: int
    at: datetime
