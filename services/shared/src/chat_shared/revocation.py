"""Revoked sessions, known to every process of every service without a network call per request.

user-service publishes :class:`~chat_shared.events.user.SessionsRevoked` through its outbox. Each service
runs one consumer group (``<service>.revocations``) that appends every revocation to a Redis stream of its
own, trimmed to one access-token lifetime; every process of the service follows that stream (one
non-blocking ``XREAD`` per poll, from where it left off) into its in-memory :class:`Revocations`, which the
token verifier asks with two dict lookups. A process that starts reads the stream from one token lifetime
back, so it knows every revocation whose tokens may still be alive. docs/architecture.md
("Revocation") gives the worst-case window and why it holds.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from chat_shared.consumer import Handlers
from chat_shared.events.envelope import EventEnvelope
from chat_shared.events.user import SessionsRevoked

log = structlog.get_logger("chat_shared.revocation")

#: Kept beyond the token lifetime, for clocks of hosts that disagree by up to this much.
CLOCK_MARGIN_S = 60
#: Entries read per ``XREAD``; a longer backlog is read in several without waiting for the next poll.
READ_BATCH = 1000


def consumer_group(service: str) -> str:
    """The consumer group that feeds a service's revocations."""
    return f"{service}.revocations"


@dataclass(frozen=True, slots=True)
class Revocation:
    """One revocation as the verifiers apply it; times are seconds since the epoch."""

    user_id: int
    session_ids: frozenset[str]
    #: Tokens of the user with ``iat`` below this second are dead (None: only the named sessions are).
    not_before: int | None
    revoked_at: float

    @classmethod
    def of(cls, event: SessionsRevoked) -> Revocation:
        """The revocation an event announces. ``not_before`` is floored to the second ``iat`` counts in: a
        token issued in that second before the change survives it unless its session is named, so the
        producer names every session it revokes and ``not_before`` catches any it could not know of."""
        return cls(
            user_id=event.user_id,
            session_ids=frozenset(event.session_ids or ()),
            not_before=math.floor(event.not_before.timestamp()) if event.not_before is not None else None,
            revoked_at=event.revoked_at.timestamp(),
        )

    def kills(self, sid: str | None, issued_at: int) -> bool:
        """Whether this revocation kills a token (or ticket, or stream) of session ``sid`` issued then."""
        if sid is not None and sid in self.session_ids:
            return True
        return self.not_before is not None and issued_at < self.not_before

    def fields(self) -> dict[str, str]:
        """The Redis stream entry."""
        return {
            "u": str(self.user_id),
            "s": " ".join(sorted(self.session_ids)),
            "nb": "" if self.not_before is None else str(self.not_before),
            "at": repr(self.revoked_at),
        }

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> Revocation:
        """The revocation a stream entry holds."""
        not_before = fields.get("nb", "")
        return cls(
            user_id=int(fields["u"]),
            session_ids=frozenset(fields.get("s", "").split()),
            not_before=int(not_before) if not_before else None,
            revoked_at=float(fields["at"]),
        )


Listener = Callable[[Revocation], Awaitable[None]]


class Revocations:
    """The revocations of the last access-token lifetime, in this process's memory.

    An entry is kept until every token it kills has expired anyway: a revoked session's tokens were all
    issued before its revocation, so they are gone ``keep_s`` after it; tokens issued before a user's
    not-before are gone ``keep_s`` after that second.
    """

    def __init__(self, keep_s: float, clock: Callable[[], float] = time.time) -> None:
        self.keep_s = keep_s
        self._clock = clock
        self._sessions: dict[str, float] = {}  # sid -> when to forget it
        self._not_before: dict[int, int] = {}  # user id -> the latest not-before second
        self._listeners: list[Listener] = []

    def is_revoked(self, user_id: int, sid: str | None, issued_at: int) -> bool:
        """Whether a token (or a ticket minted with one) of this session, issued at ``issued_at``, is dead."""
        if sid is not None and sid in self._sessions:
            return True
        not_before = self._not_before.get(user_id)
        return not_before is not None and issued_at < not_before

    def on_revoked(self, listener: Listener) -> None:
        """Call ``listener`` with every revocation this process learns of (chat-service ends streams)."""
        self._listeners.append(listener)

    async def apply(self, revocation: Revocation) -> None:
        """Remember a revocation (unless all its tokens have expired) and tell the listeners."""
        now = self._clock()
        forget_at = revocation.revoked_at + self.keep_s
        if forget_at <= now:
            return
        for sid in revocation.session_ids:
            self._sessions[sid] = max(forget_at, self._sessions.get(sid, 0.0))
        if revocation.not_before is not None and revocation.not_before + self.keep_s > now:
            current = self._not_before.get(revocation.user_id)
            if current is None or revocation.not_before > current:
                self._not_before[revocation.user_id] = revocation.not_before
        for listener in self._listeners:
            try:
                await listener(revocation)
            except Exception as exc:  # one listener's failure must not stop the others or the feed
                log.warning("revocation_listener_failed", user_id=revocation.user_id, error=repr(exc)[:200])

    def prune(self) -> None:
        """Forget what no live token can need any more."""
        now = self._clock()
        self._sessions = {sid: until for sid, until in self._sessions.items() if until > now}
        self._not_before = {u: nb for u, nb in self._not_before.items() if nb + self.keep_s > now}

    def __len__(self) -> int:
        return len(self._sessions) + len(self._not_before)


class RevocationFeed:
    """A service's Redis stream of revocations: appended by its consumer, followed by its processes."""

    def __init__(self, redis: Redis, service: str, keep_s: float, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.key = f"auth:revocations:{service}"
        self.keep_s = keep_s
        self._clock = clock

    def start_id(self) -> str:
        """The stream id one token lifetime ago: a process that starts reads from here."""
        return f"{int((self._clock() - self.keep_s) * 1000)}-0"

    async def append(self, revocation: Revocation) -> None:
        """Add a revocation, trimming entries older than a token lifetime (their tokens have expired)."""
        entry: dict[Any, Any] = dict(revocation.fields())
        await self.redis.xadd(self.key, entry, minid=self.start_id(), approximate=True)

    async def read_after(self, last_id: str) -> list[tuple[str, Revocation]]:
        """Up to :data:`READ_BATCH` revocations after ``last_id``, without waiting."""
        found: Any = await self.redis.xread({self.key: last_id}, count=READ_BATCH)
        entries: list[tuple[str, Revocation]] = []
        for _, records in found or ():
            for entry_id, fields in records:
                entries.append(
                    (_text(entry_id), Revocation.from_fields({_text(k): _text(v) for k, v in fields.items()}))
                )
        return entries


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RevocationMirror:
    """Follows a service's feed into this process's :class:`Revocations`."""

    def __init__(self, feed: RevocationFeed, revocations: Revocations, poll_s: float) -> None:
        self.feed = feed
        self.revocations = revocations
        self.poll_s = poll_s
        self.loaded = asyncio.Event()
        self._last_id: str | None = None

    async def catch_up(self) -> int:
        """Apply every entry after the last one seen (from a token lifetime back, the first time)."""
        if self._last_id is None:
            self._last_id = self.feed.start_id()
        applied = 0
        while True:
            entries = await self.feed.read_after(self._last_id)
            for entry_id, revocation in entries:
                await self.revocations.apply(revocation)
                self._last_id = entry_id
            applied += len(entries)
            if len(entries) < READ_BATCH:
                self.loaded.set()
                return applied

    async def run(self) -> None:
        """Catch up every ``poll_s`` seconds; prune once a minute; keep going through Redis outages."""
        pruned_at = time.monotonic()
        while True:
            try:
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # What this process knows stays in force; the entries missed meanwhile are read on recovery.
                log.warning("revocation_feed_unreachable", key=self.feed.key, error=repr(exc)[:200])
            if time.monotonic() - pruned_at > 60:
                self.revocations.prune()
                pruned_at = time.monotonic()
            await asyncio.sleep(self.poll_s)

    async def check(self, wait_s: float = 1.5) -> bool:
        """Readiness: a process takes requests only once it knows the revocations of the last token lifetime
        (waiting a little for the first read, which a process just started is usually doing)."""
        await asyncio.wait_for(self.loaded.wait(), timeout=wait_s)
        return True


def revocation_handlers(feed: RevocationFeed) -> Handlers:
    """The consumer's one handler: append each revocation to the service's feed. A Redis outage is
    transient (:mod:`chat_shared.transient`): the runner retries it without end, never dead-letters it."""

    async def on_sessions_revoked(_: AsyncSession, event: SessionsRevoked, __: EventEnvelope) -> None:
        await feed.append(Revocation.of(event))

    return {SessionsRevoked: on_sessions_revoked}
