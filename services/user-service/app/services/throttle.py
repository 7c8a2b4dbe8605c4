"""Login throttling in Redis: failures counted per account and per client address in a fixed window."""

from __future__ import annotations

import structlog
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError

from app.core.config import Settings
from app.core.metrics import LOGIN_THROTTLED, LOGINS
from chat_shared.errors import TooManyRequests

log = structlog.get_logger(__name__)


class LoginThrottle:
    """Refuses logins (429 + ``Retry-After``) after too many recent failures."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._window = settings.login_failure_window_s
        self._limits = {
            "account": settings.login_max_failures_per_account,
            "address": settings.login_max_failures_per_address,
        }

    @staticmethod
    def _keys(account: str, address: str) -> dict[str, str]:
        return {"account": f"login:fail:acct:{account.strip().lower()}", "address": f"login:fail:addr:{address}"}

    async def check(self, account: str, address: str) -> None:
        """Raise 429 if either counter is at its limit (before any password work is done)."""
        keys = self._keys(account, address)
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys.values():
                pipe.get(key)
                pipe.ttl(key)
            values = await pipe.execute()
        for index, scope in enumerate(keys):
            count, ttl = values[2 * index], values[2 * index + 1]
            if count is not None and int(count) >= self._limits[scope]:
                LOGIN_THROTTLED.labels(scope).inc()
                LOGINS.labels("throttled").inc()
                raise TooManyRequests(
                    retry_after=ttl if ttl and ttl > 0 else self._window,
                    detail="Too many failed login attempts, try again later",
                )

    async def failed(self, account: str, address: str) -> None:
        """Count a failure against both the account and the address.

        On a full Redis (``noeviction``) the failure goes uncounted and the login still answers 401: counters
        already at their limit keep refusing (reads need no memory), every guess still costs a password hash,
        and an alert fires at 80 % of Redis's memory. Refusing logins instead would lock every user out over
        a store's capacity.
        """
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for key in self._keys(account, address).values():
                    pipe.incr(key)
                    pipe.expire(key, self._window, nx=True)
                await pipe.execute()
        except OutOfMemoryError:
            log.error("login_failure_not_counted", reason="redis_full")

    async def succeeded(self, account: str) -> None:
        """A successful login clears the account's failures (the address keeps its count)."""
        await self._redis.delete(self._keys(account, "-")["account"])
