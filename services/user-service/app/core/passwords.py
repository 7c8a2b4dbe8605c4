"""Password hashing: Argon2id through passlib's API (libpass), always off the event loop.

Hashing is CPU-bound (~25 ms): it runs in a small dedicated thread pool, and when more requests wait
for it than the pool can clear quickly, new ones are refused at once with 503 instead of queueing
until they time out (S2 in docs/performance.md). bcrypt hashes from older accounts still verify and
are flagged for re-hashing.
"""

from __future__ import annotations

import asyncio
import gzip
import unicodedata
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any

from passlib.context import CryptContext

from app.core.config import Settings
from app.core.metrics import HASH_REFUSED
from chat_shared.errors import ServiceUnavailable

#: zxcvbn-ts's breach-ranked dictionary, folded like :func:`fold` (source, licence, update: README.md there).
_COMMON_FILE = Path(__file__).with_name("common_passwords") / "passwords.txt.gz"


def normalize(password: str) -> str:
    """NFKC, so the same password typed on different keyboards/IMEs hashes the same."""
    return unicodedata.normalize("NFKC", password)


def fold(password: str) -> str:
    """NFKC then case-folded: the form compared with the common list, so ``ＰＡＳＳＷＯＲＤ１２３`` and
    ``PAẞWORD1`` are as common as ``password123`` and ``password1``."""
    return normalize(password).casefold()


@cache
def common_passwords() -> frozenset[str]:
    """The common list, read once per process."""
    with gzip.open(_COMMON_FILE, "rt", encoding="utf-8") as lines:
        return frozenset(fold(line.rstrip("\n")) for line in lines if line.strip())


def is_common(password: str) -> bool:
    """True when the password is on the common list, whatever its case or width."""
    return fold(password) in common_passwords()


class PasswordHasher:
    """Hash and verify in a bounded thread pool; refuse fast when saturated."""

    def __init__(self, settings: Settings) -> None:
        self._context = CryptContext(
            schemes=["argon2", "bcrypt"],
            deprecated=["bcrypt"],
            argon2__type="ID",
            argon2__memory_cost=settings.argon2_memory_kib,
            argon2__rounds=settings.argon2_time_cost,
            argon2__parallelism=settings.argon2_parallelism,
        )
        self._pool = ThreadPoolExecutor(max_workers=settings.hash_threads, thread_name_prefix="hash")
        self._capacity = settings.hash_threads + settings.hash_queue_limit
        self._admitted = 0
        # Verifying against this keeps unknown-account logins as slow as real ones (no user enumeration).
        self._dummy_hash = self._context.hash("dummy-password-for-timing")
        common_passwords()  # read at start-up, not on the first registration

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Admit one hashing request for its whole duration, or refuse it at once with 503.

        Taken before any I/O, so excess requests cost microseconds and hold no database connection
        while they would wait for a hashing thread (queueing them there is what turns overload into
        timeouts).
        """
        if self._admitted >= self._capacity:
            HASH_REFUSED.inc()
            raise ServiceUnavailable("Authentication is busy, retry shortly", retry_after=1)
        self._admitted += 1
        try:
            yield
        finally:
            self._admitted -= 1

    async def _run(self, fn: Callable[..., Any], *args: str) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, fn, *args)

    async def hash(self, password: str) -> str:
        """An Argon2id hash of the NFKC-normalised password."""
        return await self._run(self._context.hash, normalize(password))

    async def verify(self, password: str, stored_hash: str | None) -> tuple[bool, bool]:
        """(matches, needs_rehash). With ``stored_hash=None`` a dummy hash is checked and False returned."""
        if stored_hash is None:
            await self._run(self._context.verify, normalize(password), self._dummy_hash)
            return False, False
        ok: bool = await self._run(self._context.verify, normalize(password), stored_hash)
        return ok, ok and self._context.needs_update(stored_hash)

    def close(self) -> None:
        """Stop the pool's threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)
