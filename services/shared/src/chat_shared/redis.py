"""Redis client factory (redis-py asyncio), with an in-process stand-in for the no-Docker mode."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from redis.asyncio import Redis


def create_redis(url: str) -> Redis:
    """A client for ``redis://`` URLs, or fakeredis for ``fakeredis://`` (one process only)."""
    if url.startswith("fakeredis://"):
        import fakeredis

        client: Redis = fakeredis.FakeAsyncRedis(decode_responses=True)
        return client
    return Redis.from_url(url, decode_responses=True, socket_connect_timeout=2, socket_timeout=5,
                          health_check_interval=30)


def get_redis(request: Request) -> Redis:
    """The app's shared Redis client."""
    client: Any = request.app.state.redis
    return client


RedisDep = Annotated[Redis, Depends(get_redis)]
