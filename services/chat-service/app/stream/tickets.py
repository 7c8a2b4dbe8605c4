"""Stream tickets: opaque, random, stored in Redis for 5 minutes, good only for opening one user's stream.

A ticket can be used more than once within its lifetime so a browser's EventSource can reconnect on its
own; a ticket seen in an access log is worth nothing after 5 minutes.
"""

from __future__ import annotations

import secrets

from redis.asyncio import Redis


def _key(ticket: str) -> str:
    return f"chat:ticket:{ticket}"


class TicketStore:
    """Issue and redeem stream tickets."""

    def __init__(self, redis: Redis, ttl_s: int = 300) -> None:
        self.redis = redis
        self.ttl_s = ttl_s

    async def issue(self, user_id: int) -> str:
        """A new ticket for ``user_id``."""
        ticket = secrets.token_urlsafe(32)
        await self.redis.set(_key(ticket), str(user_id), ex=self.ttl_s)
        return ticket

    async def redeem(self, ticket: str) -> int | None:
        """The user a live ticket belongs to, or None."""
        if not 20 <= len(ticket) <= 100:
            return None
        value = await self.redis.get(_key(ticket))
        return int(value) if value else None
