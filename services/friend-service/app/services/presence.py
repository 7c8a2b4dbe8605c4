"""friend-service's presence replica (:mod:`chat_shared.presence`) under its own Redis keys."""

from __future__ import annotations

from redis.asyncio import Redis

from chat_shared.presence import PresenceReplica as SharedPresenceReplica

PREFIX = "friend:presence:"


def presence_key(user_id: int) -> str:
    """Redis key of a user's replicated presence."""
    return f"{PREFIX}{user_id}"


class PresenceReplica(SharedPresenceReplica):
    """The shared replica bound to friend-service's key prefix."""

    def __init__(self, redis: Redis, online_ttl_s: int, offline_ttl_s: int) -> None:
        super().__init__(redis, PREFIX, online_ttl_s, offline_ttl_s)
