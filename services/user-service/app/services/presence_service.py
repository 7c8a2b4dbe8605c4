"""Presence: a heartbeat keeps a user online for the TTL; a sweeper turns silent users offline.

Redis holds ``presence:{id}`` (value: last heartbeat time, TTL 60 s) and a sorted set
``presence:online`` scored by expiry. A heartbeat that finds no key is an online transition. The
sweeper removes expired members with ZREM, whose atomic result decides which replica publishes the
offline transition, so each transition is published once however many replicas sweep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.metrics import ONLINE_USERS
from app.models.user import User
from chat_shared.db import commit, utcnow
from chat_shared.events.user import UserOffline
from chat_shared.outbox import Outbox

log = structlog.get_logger(__name__)
ONLINE_SET = "presence:online"


def presence_key(user_id: int) -> str:
    """Redis key of a user's heartbeat."""
    return f"presence:{user_id}"


class Presence:
    """Heartbeats, online lookups and the offline sweeper."""

    def __init__(self, redis: Redis, ttl_s: int, clock: Callable[[], datetime] = utcnow) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self._clock = clock

    async def heartbeat(self, user_id: int, now: datetime) -> bool:
        """Mark online for the TTL; True when the user was offline before (an online transition)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(presence_key(user_id), now.isoformat(), ex=self.ttl_s, get=True)
            pipe.zadd(ONLINE_SET, {str(user_id): now.timestamp() + self.ttl_s})
            previous, _ = await pipe.execute()
        return previous is None

    async def status(self, user_ids: list[int]) -> dict[int, datetime | None]:
        """For each online user, their last heartbeat time; offline users are absent."""
        if not user_ids:
            return {}
        values = await self.redis.mget([presence_key(u) for u in user_ids])
        return {u: parse_time(str(v)) for u, v in zip(user_ids, values, strict=True) if v is not None}

    async def sweep(self, sessionmaker: async_sessionmaker[AsyncSession], outbox: Outbox) -> int:
        """Publish ``UserOffline`` for every user whose heartbeat expired; returns how many."""
        now = self._clock()
        expired = await self.redis.zrangebyscore(ONLINE_SET, "-inf", now.timestamp(), start=0, num=500)
        count = 0
        for member in expired:
            user_id = int(str(member))
            last = await self.redis.get(presence_key(user_id))
            if last is not None:
                continue  # a heartbeat raced the sweep; the user is still online
            if not await self.redis.zrem(ONLINE_SET, str(member)):
                continue  # another replica handled this transition
            async with sessionmaker() as session:
                await session.execute(update(User).where(User.id == user_id).values(last_seen_at=now))
                outbox.add(session, UserOffline(user_id=user_id, at=now))
                await commit(session)
            count += 1
        ONLINE_USERS.set(await self.redis.zcard(ONLINE_SET))
        return count

    async def run_sweeper(
        self, sessionmaker: async_sessionmaker[AsyncSession], outbox: Outbox, interval_s: float
    ) -> None:
        """Sweep forever; errors (Redis or SQL away) only delay the offline transitions."""
        while True:
            try:
                await self.sweep(sessionmaker, outbox)
            except Exception as exc:
                log.warning("presence_sweep_failed", error=repr(exc)[:200])
            await asyncio.sleep(interval_s)


def parse_time(value: str) -> datetime:
    """A stored heartbeat time back as an aware datetime."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
