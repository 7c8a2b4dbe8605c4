"""Fallback lookup of users the replica does not know yet: user-service's ``GET /users?ids=``.

A bounded call behind a circuit breaker (:mod:`chat_shared.upstream`): while user-service is down,
lookups fail at once with 503 instead of waiting on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.metrics import USER_LOOKUP_FALLBACK
from app.repositories.users import UserReplica
from app.services.user_lookup import UserRef
from chat_shared.errors import ServiceUnavailable
from chat_shared.upstream import CircuitBreaker, Upstream, UpstreamUnavailable

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RemoteUser:
    """The public fields of a user as user-service returns them."""

    id: int
    username: str
    display_name: str
    created_at: datetime
    avatar_url: str | None = None


class UserDirectory:
    """user-service's batch lookup, bounded in time and guarded by a circuit breaker."""

    def __init__(
        self,
        base_url: str,
        timeout_s: float,
        threshold: int,
        open_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.upstream = Upstream("user-service", base_url, timeout_s, threshold, open_s, clock)

    @property
    def breaker(self) -> CircuitBreaker:
        """The circuit guarding user-service."""
        return self.upstream.breaker

    @classmethod
    def from_settings(cls, settings: Settings) -> UserDirectory:
        """A directory configured from settings."""
        return cls(
            settings.user_service_url,
            settings.user_lookup_timeout_s,
            settings.user_lookup_failure_threshold,
            settings.user_lookup_open_s,
        )

    async def close(self) -> None:
        """Close the connection pool."""
        await self.upstream.close()

    @staticmethod
    def _fail(reason: str) -> ServiceUnavailable:
        USER_LOOKUP_FALLBACK.labels("error").inc()
        log.warning("user_lookup_failed", reason=reason[:200])
        return ServiceUnavailable("User directory unavailable, try again later")

    async def lookup(self, user_id: int, authorization: str | None) -> RemoteUser | None:
        """The user from user-service, None if it has no such user; 503 when it cannot answer."""
        try:
            response = await self.upstream.get("/users", {"ids": str(user_id)}, authorization)
        except UpstreamUnavailable as exc:
            if exc.circuit_open:
                USER_LOOKUP_FALLBACK.labels("circuit_open").inc()
                raise ServiceUnavailable(
                    "User directory unavailable, try again later", retry_after=exc.retry_after
                ) from exc
            raise self._fail(exc.reason) from exc
        try:
            items = response.json()["items"]
            found = [
                RemoteUser(
                    id=int(i["id"]),
                    username=str(i["username"]),
                    display_name=str(i["display_name"]),
                    created_at=datetime.fromisoformat(str(i["created_at"]).replace("Z", "+00:00")),
                    avatar_url=str(i["avatar_url"]) if i.get("avatar_url") else None,
                )
                for i in items
                if int(i["id"]) == user_id
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise self._fail(f"unexpected body: {exc!r}") from exc
        USER_LOOKUP_FALLBACK.labels("hit" if found else "miss").inc()
        return found[0] if found else None


@dataclass(frozen=True, slots=True)
class DirectoryLookup:
    """The :class:`UserLookup` of one request: the replica, else user-service asked with the caller's
    ``Authorization`` header (then replicated).

    A looked-up row is versioned with the account's ``created_at``, the oldest version there is, so
    any ``UserRegistered``/``UserProfileUpdated`` arriving later still applies.
    """

    session: AsyncSession
    directory: UserDirectory
    authorization: str | None

    async def get(self, user_id: int) -> UserRef | None:
        replica = UserReplica(self.session)
        user = await replica.get(user_id)
        if user is None:
            remote = await self.directory.lookup(user_id, self.authorization)
            if remote is None:
                return None
            await replica.upsert_if_newer(
                remote.id, remote.username, remote.display_name, remote.created_at, remote.avatar_url
            )
            user = await replica.get(user_id)
            if user is None:  # pragma: no cover - the upsert above guarantees the row
                return None
        return UserRef(id=user.id, username=user.username, display_name=user.display_name)
