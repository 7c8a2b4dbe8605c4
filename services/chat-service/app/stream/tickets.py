"""Stream tickets: opaque, random, stored in Redis for 5 minutes, good only for opening one user's stream.

A ticket can be used more than once within its lifetime so a browser's EventSource can reconnect on its
own (same URL, with ``Last-Event-ID``); a ticket seen in an access log is worth nothing after 5 minutes.
It remembers the session of the access token that minted it (``sid`` and ``iat``), and dies with that
session: a ticket of a revoked session, or minted before its user's not-before time, is refused like an
expired one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from chat_shared.auth import AuthUser
from chat_shared.revocation import Revocations


def _key(ticket: str) -> str:
    return f"chat:ticket:{ticket}"


@dataclass(frozen=True, slots=True)
class StreamGrant:
    """Who may open a stream, and the session that vouches for them (a stream ends with it)."""

    user_id: int
    sid: str | None
    issued_at: int

    @classmethod
    def of(cls, user: AuthUser) -> StreamGrant:
        """The grant of a verified access token."""
        return cls(user.id, user.sid, user.issued_at)

    def encode(self) -> str:
        return f"{self.user_id} {self.issued_at} {self.sid or ''}".rstrip()

    @classmethod
    def decode(cls, value: str) -> StreamGrant:
        parts = value.split()
        if len(parts) == 1:  # a bare user id, as an older release mints them during a rolling deploy
            return cls(int(parts[0]), None, 0)
        return cls(int(parts[0]), parts[2] if len(parts) > 2 else None, int(parts[1]))


class TicketStore:
    """Issue and redeem stream tickets."""

    def __init__(self, redis: Redis, revocations: Revocations, ttl_s: int = 300) -> None:
        self.redis = redis
        self.revocations = revocations
        self.ttl_s = ttl_s

    async def issue(self, user: AuthUser) -> str:
        """A new ticket for the caller, tied to the session of their token."""
        ticket = secrets.token_urlsafe(32)
        await self.redis.set(_key(ticket), StreamGrant.of(user).encode(), ex=self.ttl_s)
        return ticket

    async def redeem(self, ticket: str) -> StreamGrant | None:
        """What a live ticket grants, or None (unknown, expired, or its session was revoked)."""
        if not 20 <= len(ticket) <= 100:
            return None
        value = await self.redis.get(_key(ticket))
        if not value:
            return None
        grant = StreamGrant.decode(value.decode() if isinstance(value, bytes) else value)
        if self.revocations.is_revoked(grant.user_id, grant.sid, grant.issued_at):
            return None
        return grant
