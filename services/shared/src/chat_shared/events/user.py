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
    """A new account exists. ``email`` and ``locale`` (from the registration's ``Accept-Language``) are for
    the welcome mail; never carries a password, hash or token."""

    topic = USER_EVENTS

    username: str
    display_name: str
    email: str | None = None
    locale: str | None = None
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
    SESSION_REVOKED = "session_revoked"
    LOGOUT_ALL = "logout_all"
    PASSWORD_RESET = "password_reset"
    DEACTIVATED = "deactivated"
    DELETED = "deleted"


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


class UserDeactivated(_UserEvent):
    """An administrator deactivated the account: no login, and every token issued before ``at`` is dead."""

    topic = USER_EVENTS

    by_user_id: int
    reason: str
    at: datetime


class UserReactivated(_UserEvent):
    """An administrator reactivated the account: the user can log in again."""

    topic = USER_EVENTS

    by_user_id: int
    reason: str | None = None
    at: datetime


class UserDeleted(_UserEvent):
    """The user deleted their account: every service erases what it holds of them (idempotently; a replay
    finishes an interrupted erasure). Kept messages show their sender as deleted."""

    topic = USER_EVENTS

    at: datetime


class PasswordResetRequested(_UserEvent):
    """A password reset was asked for this account. Carries no token: the reset mail is sent without the
    token passing through the broker."""

    topic = USER_EVENTS

    at: datetime


class UserOnline(_UserEvent):
    """First heartbeat after being offline."""

    topic = USER_ONLINE_STATUS

    at: datetime


class UserOffline(_UserEvent):
    """No heartbeat for the presence TTL."""

    topic = USER_ONLINE_STATUS

    at: datetime
