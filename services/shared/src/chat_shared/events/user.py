"""Events of the user context: ``user.events`` and ``user.online_status``, keyed by user id."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import model_validator

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


class RevocationReason(StrEnum):
    """Why sessions were revoked (the values :attr:`SessionsRevoked.reason` carries today)."""

    LOGOUT = "logout"
    PASSWORD_CHANGE = "password_change"
    REFRESH_TOKEN_REUSE = "refresh_token_reuse"


class SessionsRevoked(_UserEvent):
    """Sessions of a user ended: their access tokens, stream tickets and open streams must stop working.

    ``session_ids`` names the sessions (refresh-token families, the ``sid`` of their access tokens);
    ``not_before`` kills every token of the user issued before that second, whatever its session, and is
    required when ``session_ids`` is null (all of them). ``reason`` is one of :class:`RevocationReason`,
    kept a plain string so a consumer older than a new reason still applies the revocation. Carries no
    token.
    """

    topic = USER_EVENTS

    session_ids: list[str] | None = None
    not_before: datetime | None = None
    reason: str
    revoked_at: datetime

    @model_validator(mode="after")
    def _names_what_is_revoked(self) -> SessionsRevoked:
        if self.session_ids is None and self.not_before is None:
            raise ValueError("SessionsRevoked needs session_ids, not_before, or both")
        return self


class UserOnline(_UserEvent):
    """First heartbeat after being offline."""

    topic = USER_ONLINE_STATUS

    at: datetime


class UserOffline(_UserEvent):
    """No heartbeat for the presence TTL."""

    topic = USER_ONLINE_STATUS

    at: datetime
