"""Password-guess throttling in Redis: failures counted per account+address, per address and per account.

A guess is a failed login or a wrong current password on a password change; both count against the same
account. The rules and their numbers are in docs/user-service.md ("Throttling"). In short: an address that
keeps failing against one account is slowed down (429) without locking the account, so its owner still
logs in from anywhere else; an address failing against many accounts is slowed down everywhere; and once
an account collects many failures from many addresses, only addresses that have failed against it (and
never logged into it) are refused.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import NewType

import structlog
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError

from app.core.config import Settings
from app.core.metrics import LOGIN_THROTTLED
from chat_shared.errors import TooManyRequests

#: Whose failures a counter holds: ``user:<id>`` for an account, ``name:<digest>`` for an identifier that
#: matches none (so probing unknown names is throttled the same way, and no email is kept in Redis).
AccountKey = NewType("AccountKey", str)

_DETAIL = "Too many failed attempts, try again later"


class Scope(StrEnum):
    """Which counter refused a request (the ``scope`` label of ``user_login_throttled_total``)."""

    ACCOUNT_ADDRESS = "account_address"
    ADDRESS = "address"
    ACCOUNT = "account"


def fold_identifier(identifier: str) -> str:
    """The identifier as the database compares it: ``utf8mb4_unicode_ci`` ignores case, accents and trailing
    spaces, so ``Alicé `` finds the account ``alice``, and an unknown identifier must be counted as one name
    however it is spelt."""
    decomposed = unicodedata.normalize("NFKD", identifier.strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def user_account(user_id: int) -> AccountKey:
    """The counter key of an existing account."""
    return AccountKey(f"user:{user_id}")


def unknown_account(identifier: str) -> AccountKey:
    """The counter key of an identifier that matches no account."""
    digest = hashlib.sha256(fold_identifier(identifier).encode()).hexdigest()[:32]
    return AccountKey(f"name:{digest}")


def _address_key(address: str) -> str:
    return f"login:fail:addr:{address}"


@dataclass(frozen=True)
class _Keys:
    pair: str
    address: str
    account: str
    known: str

    @classmethod
    def of(cls, account: AccountKey, address: str) -> _Keys:
        return cls(
            pair=f"login:fail:pair:{account}:{address}",
            address=_address_key(address),
            account=f"login:fail:acct:{account}",
            known=f"login:ok:{account}:{address}",
        )


log = structlog.get_logger(__name__)


class LoginThrottle:
    """Refuses password guesses (429 + ``Retry-After``) after too many recent failures."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._window = settings.login_failure_window_s
        self._per_pair = settings.login_max_failures_per_account_address
        self._per_address = settings.login_max_failures_per_address
        self._per_account = settings.login_max_failures_per_account
        self._known_ttl = settings.login_known_address_ttl_s

    def _refuse(self, scope: Scope, ttl: int | None) -> TooManyRequests:
        LOGIN_THROTTLED.labels(scope.value).inc()
        return TooManyRequests(retry_after=ttl if ttl and ttl > 0 else self._window, detail=_DETAIL)

    async def check_address(self, address: str) -> None:
        """Raise 429 if the address is over its limit; needs no account, so it runs before any other work."""
        key = _address_key(address)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(key)
            pipe.ttl(key)
            count, ttl = await pipe.execute()
        if count is not None and int(count) >= self._per_address:
            raise self._refuse(Scope.ADDRESS, ttl)

    async def check(self, account: AccountKey, address: str) -> None:
        """Raise 429 if this address may not guess this account's password now (before any hashing)."""
        keys = _Keys.of(account, address)
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in (keys.pair, keys.address, keys.account):
                pipe.get(key)
                pipe.ttl(key)
            pipe.exists(keys.known)
            pair, pair_ttl, by_address, address_ttl, by_account, account_ttl, known = await pipe.execute()
        pair_failures = int(pair or 0)
        if pair_failures >= self._per_pair:
            raise self._refuse(Scope.ACCOUNT_ADDRESS, pair_ttl)
        if int(by_address or 0) >= self._per_address:
            raise self._refuse(Scope.ADDRESS, address_ttl)
        if int(by_account or 0) >= self._per_account and pair_failures > 0 and not known:
            raise self._refuse(Scope.ACCOUNT, account_ttl)

    async def failed(self, account: AccountKey, address: str) -> None:
        """Count a failure against the account+address pair, the address and the account.

        On a full Redis (``noeviction``) the failure goes uncounted and the login still answers 401: counters
        already at their limit keep refusing (reads need no memory), every guess still costs a password hash,
        and an alert fires at 80 % of Redis's memory. Refusing logins instead would lock every user out over
        a store's capacity.
        """
        keys = _Keys.of(account, address)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for key in (keys.pair, keys.address, keys.account):
                    pipe.incr(key)
                    pipe.expire(key, self._window, nx=True)
                await pipe.execute()
        except OutOfMemoryError:
            log.error("login_failure_not_counted", reason="redis_full")

    async def succeeded(self, account: AccountKey, address: str) -> None:
        """Forget this pair's failures and remember the address as one the owner uses.

        The account's own count stays: an owner logging in must not give a distributed attacker a fresh
        allowance. The address's count stays too, as it may be guessing other accounts.
        """
        keys = _Keys.of(account, address)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(keys.pair)
                pipe.set(keys.known, 1, ex=self._known_ttl)
                await pipe.execute()
        except OutOfMemoryError:
            # The login itself succeeded; only the known-address mark is lost on a full Redis.
            await self._redis.delete(keys.pair)
            log.error("login_address_not_remembered", reason="redis_full")
