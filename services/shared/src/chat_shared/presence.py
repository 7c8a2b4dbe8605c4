"""Who is online, replicated from ``user.online_status`` into Redis.

user-service publishes transitions only (``UserOnline`` on the first heartbeat after being offline,
``UserOffline`` when the 60 s presence TTL lapses), not every heartbeat. So the replica keeps a
*state* per user — ``<prefix>{id}`` = ``"1:<at ms>"`` or ``"0:<at ms>"`` — rather than a key
that a heartbeat would have to refresh: a 75 s TTL would turn every user offline 75 s after they came
online. A transition older than the stored one is ignored (out-of-order safe). The online mark has a
long safety TTL (a lost ``UserOffline`` cannot keep someone online forever); the offline mark only has
to outlive the topic's retention so a late ``UserOnline`` cannot resurrect it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from chat_shared.consumer import Handlers
from chat_shared.events.envelope import EventEnvelope
from chat_shared.events.user import UserOffline, UserOnline


class PresenceReplica:
    """Applies presence transitions and answers "who of these is online"; each service keeps its own copy
    under its own key prefix (``friend:presence:``, ``notif:presence:``)."""

    def __init__(self, redis: Redis, prefix: str, online_ttl_s: int, offline_ttl_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.online_ttl_s = online_ttl_s
        self.offline_ttl_s = offline_ttl_s

    def key(self, user_id: int) -> str:
        """Redis key of a user's replicated presence."""
        return f"{self.prefix}{user_id}"

    async def apply(self, user_id: int, online: bool, at: datetime) -> bool:
        """Record a transition unless a newer one is already recorded; True if applied.

        Events of one user share a partition and are handled one at a time by one consumer, so the
        read-compare-write below has no concurrent writer for the same key.
        """
        at_ms = int(at.timestamp() * 1000)
        key = self.key(user_id)
        current = await self.redis.get(key)
        if current is not None and int(str(current).split(":", 1)[1]) >= at_ms:
            return False
        ttl = self.online_ttl_s if online else self.offline_ttl_s
        await self.redis.set(key, f"{1 if online else 0}:{at_ms}", ex=ttl)
        return True

    async def online(self, user_ids: Sequence[int]) -> set[int]:
        """The subset of ``user_ids`` currently online (one MGET)."""
        if not user_ids:
            return set()
        values = await self.redis.mget([self.key(u) for u in user_ids])
        return {u for u, v in zip(user_ids, values, strict=True) if v is not None and str(v).startswith("1:")}


def presence_handlers(presence: PresenceReplica) -> Handlers:
    """Consumer handlers of ``user.online_status`` writing the transitions into ``presence``."""

    async def on_online(session: AsyncSession, event: UserOnline, _: EventEnvelope) -> None:
        await presence.apply(event.user_id, True, event.at)

    async def on_offline(session: AsyncSession, event: UserOffline, _: EventEnvelope) -> None:
        await presence.apply(event.user_id, False, event.at)

    return {UserOnline: on_online, UserOffline: on_offline}
