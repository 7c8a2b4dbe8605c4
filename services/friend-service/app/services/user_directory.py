"""Fallback lookup of users the replica does not know yet: user-service's ``GET /users?ids=``.

A bounded call (timeout, total deadline) behind a circuit breaker: after ``threshold`` consecutive
failures the circuit opens for ``open_s`` seconds and lookups fail at once with 503 instead of
waiting on a dependency that is down. After that window one call goes through (half-open); its
success closes the circuit, its failure opens it again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.metrics import USER_LOOKUP_FALLBACK
from app.repositories.users import UserReplica
from app.services.user_lookup import UserRef
from chat_shared import tracing
from chat_shared.errors import ServiceUnavailable

log = structlog.get_logger(__name__)


class CircuitBreaker:
    """Open after ``threshold`` consecutive failures, for ``open_s`` seconds."""

    def __init__(self, threshold: int, open_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.open_s = open_s
        self._clock = clock
        self.failures = 0
        self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        """True while calls are refused without trying."""
        return self._clock() < self._open_until

    def retry_after(self) -> int:
        """Seconds until the next trial call is let through."""
        return max(1, int(self._open_until - self._clock() + 0.999))

    def success(self) -> None:
        """A call worked: close the circuit."""
        self.failures = 0
        self._open_until = 0.0

    def failure(self) -> None:
        """A call failed; open the circuit once failures reach the threshold."""
        self.failures += 1
        if self.failures >= self.threshold:
            self._open_until = self._clock() + self.open_s
            log.warning("user_directory_circuit_open", failures=self.failures, open_s=self.open_s)

    def reset(self) -> None:
        """Forget past failures (tests, or an operator after a fix)."""
        self.success()


@dataclass(frozen=True)
class RemoteUser:
    """The public fields of a user as user-service returns them."""

    id: int
    username: str
    display_name: str
    created_at: datetime


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
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.breaker = CircuitBreaker(threshold, open_s, clock)
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=httpx.Timeout(timeout_s))

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
        await self._client.aclose()

    def _fail(self, reason: str, counts: bool = True) -> ServiceUnavailable:
        if counts:
            self.breaker.failure()
        USER_LOOKUP_FALLBACK.labels("error").inc()
        log.warning("user_lookup_failed", reason=reason[:200])
        return ServiceUnavailable("User directory unavailable, try again later")

    async def lookup(self, user_id: int, authorization: str | None) -> RemoteUser | None:
        """The user from user-service, None if it has no such user; 503 when it cannot answer."""
        if self.breaker.is_open:
            USER_LOOKUP_FALLBACK.labels("circuit_open").inc()
            raise ServiceUnavailable(
                "User directory unavailable, try again later", retry_after=self.breaker.retry_after()
            )
        headers = tracing.outgoing_headers()
        if authorization:
            headers["Authorization"] = authorization
        try:
            response = await asyncio.wait_for(
                self._client.get("/users", params={"ids": str(user_id)}, headers=headers), self.timeout_s
            )
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            raise self._fail(repr(exc)) from exc
        if response.status_code >= 500:
            raise self._fail(f"status {response.status_code}")
        if response.status_code != 200:
            # user-service answered, so it is up: a refusal does not count towards opening the circuit.
            raise self._fail(f"status {response.status_code}", counts=False)
        self.breaker.success()
        try:
            items = response.json()["items"]
            found = [
                RemoteUser(
                    id=int(i["id"]),
                    username=str(i["username"]),
                    display_name=str(i["display_name"]),
                    created_at=datetime.fromisoformat(str(i["created_at"]).replace("Z", "+00:00")),
                )
                for i in items
                if int(i["id"]) == user_id
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise self._fail(f"unexpected body: {exc!r}", counts=False) from exc
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
            await replica.upsert_if_newer(remote.id, remote.username, remote.display_name, remote.created_at)
            user = await replica.get(user_id)
            if user is None:  # pragma: no cover - the upsert above guarantees the row
                return None
        return UserRef(id=user.id, username=user.username, display_name=user.display_name)
