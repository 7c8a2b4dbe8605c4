"""Presence: a heartbeat keeps a user online for the TTL; a sweeper turns silent users offline.

Redis holds ``presence:{id}`` (value: last heartbeat time, TTL 60 s) and a sorted set
``presence:online`` scored by expiry. Each transition is an outbox event, and Redis changes only after the
event's transaction committed: a failed commit leaves Redis saying what the published events say, so the
transition is simply made again. A heartbeat that finds no key publishes ``UserOnline`` and sets the key
once that committed. The sweeper claims an expired member (``SET NX``, so one replica publishes each
transition), commits ``UserOffline`` and only then removes the member — if the commit fails the member
is still there and the next sweep finds it again. A crash between a commit and its Redis change, or two
first heartbeats at once, publishes the same transition twice at worst; the replicas keep the newest
(out-of-order safe), so a repeat is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.metrics import ONLINE_USERS
from app.models.user import User
from chat_shared.db import after_commit, commit, utcnow
from chat_shared.events.user import UserOffline, UserOnline
from chat_shared.outbox import Outbox

log = structlog.get_logger(__name__)
ONLINE_SET = "presence:online"
#: How long a sweeper's claim on one transition lasts if it never finishes (its process died mid-way).
SWEEP_CLAIM_S = 30

# Refresh an online user: the key and their deadline, only if the key still exists.
_REFRESH = """
if redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'XX') then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
  return 1
end
return 0
"""
# Forget a swept user unless a heartbeat brought them back meanwhile (key set again, deadline moved on).
_FORGET = """
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 and score and tonumber(score) <= tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[2], ARGV[1])
end
redis.call('DEL', KEYS[3])
return 0
"""


def presence_key(user_id: int) -> str:
    """Redis key of a user's heartbeat."""
    return f"presence:{user_id}"


def sweep_claim_key(user_id: int) -> str:
    """Redis key a sweeper holds while it publishes a user's offline transition."""
    return f"presence:sweeping:{user_id}"


class Presence:
    """Heartbeats, online lookups and the offline sweeper."""

    def __init__(self, redis: Redis, ttl_s: int, clock: Callable[[], datetime] = utcnow) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self._clock = clock
        self._refresh = redis.register_script(_REFRESH)
        self._forget = redis.register_script(_FORGET)

    async def heartbeat(self, session: AsyncSession, outbox: Outbox, user_id: int, now: datetime) -> bool:
        """Keep the user online for the TTL; True for an online transition, whose ``UserOnline`` is added to
        ``session`` and whose key is set once that commits."""
        key = presence_key(user_id)
        deadline = now.timestamp() + self.ttl_s
        if await self._refresh(keys=[key, ONLINE_SET], args=[now.isoformat(), self.ttl_s, deadline, str(user_id)]):
            return False
        outbox.add(session, UserOnline(user_id=user_id, at=now))

        async def mark_online() -> None:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(key, now.isoformat(), ex=self.ttl_s)
                pipe.zadd(ONLINE_SET, {str(user_id): deadline})
                await pipe.execute()

        after_commit(session, mark_online)
        return True

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
            if await self.redis.exists(presence_key(user_id)):
                continue  # a heartbeat raced the sweep; the user is still online
            claim = sweep_claim_key(user_id)
            if not await self.redis.set(claim, "1", nx=True, ex=SWEEP_CLAIM_S):
                continue  # another replica is publishing this transition
            try:
                async with sessionmaker() as session:
                    await session.execute(update(User).where(User.id == user_id).values(last_seen_at=now))
                    outbox.add(session, UserOffline(user_id=user_id, at=now))
                    await commit(session)
            except BaseException:
                with contextlib.suppress(Exception):  # else the claim lapses by itself
                    await self.redis.delete(claim)  # the next sweep tries again
                raise
            await self._forget(keys=[presence_key(user_id), ONLINE_SET, claim], args=[str(user_id), now.timestamp()])
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
