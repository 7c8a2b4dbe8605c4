"""Redis client factory (redis-py asyncio), with an in-process stand-in for the no-Docker mode.

The stand-in (``fakeredis://``) is fakeredis with its Lua runtime, so callers use one API on both: a script
(``register_script``) runs whole on either, nothing else running while it does.

Given a service name, the client times every command into ``store_call_duration_seconds{store="redis"}``:
``operation`` is the command name in lower case (``get``, ``set``, ``evalsha`` …), a pipeline's round trip
is one ``pipeline`` call. Pub/sub connections (``client.pubsub()``) are not timed: their reads wait for
messages, not for Redis.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from prometheus_client import Histogram
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import Pipeline

from chat_shared import metrics
from chat_shared.standins import StandIn, stand_in
from chat_shared.state import core_state

_MAX_OPERATION = 24  # command names are a closed set; the cap only guards against a caller's odd input


def create_redis(url: str, service: str | None = None, max_connections: int = 64) -> Redis:
    """A client for ``redis://`` URLs, or fakeredis for ``fakeredis://`` (one process only).

    The pool blocks (up to 5 s) for a free connection instead of failing: a broadcast wakes thousands of
    stream pumps at once, and redis-py's plain pool raises ``MaxConnectionsError`` past its limit. With
    ``service`` every command's latency is recorded under that service's name.
    """
    client: Redis
    if stand_in(url) is StandIn.FAKEREDIS:
        client = _in_process_redis()
    else:
        pool = BlockingConnectionPool.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=30,
            max_connections=max_connections,
            timeout=5,
        )
        client = Redis(connection_pool=pool)
    if service:
        instrument(client, service)
    return client


def _in_process_redis() -> Redis:
    """fakeredis, refusing to start without the Lua runtime its scripts need (the ``fakeredis[lua]`` extra)."""
    if importlib.util.find_spec("lupa") is None:
        raise RuntimeError("REDIS_URL=fakeredis:// needs fakeredis's Lua runtime: install fakeredis[lua] (lupa)")
    import fakeredis

    client: Redis = fakeredis.FakeAsyncRedis(decode_responses=True)
    return client


def instrument(client: Redis, service: str) -> Redis:
    """Time ``client``'s commands and pipelines (patches this instance only; cheap: a dict lookup per call)."""
    children: dict[str, Histogram] = {}

    def child(operation: str) -> Histogram:
        found = children.get(operation)
        if found is None:
            found = children[operation] = metrics.STORE_DURATION.labels(service, "redis", operation)
        return found

    def observe(operation: str, started: float) -> None:
        try:
            child(operation).observe(time.perf_counter() - started)
        except Exception:  # pragma: no cover - metrics never break a call
            logging.getLogger(__name__).exception("metrics_failed")

    execute_command = client.execute_command

    async def timed_execute_command(*args: Any, **options: Any) -> Any:
        started = time.perf_counter()
        try:
            return await execute_command(*args, **options)
        finally:
            name = args[0] if args else "unknown"
            operation = (name.decode("latin-1") if isinstance(name, bytes) else str(name)).lower()
            observe(operation[:_MAX_OPERATION], started)

    make_pipeline: Callable[..., Pipeline] = client.pipeline

    def timed_pipeline(*args: Any, **kwargs: Any) -> Pipeline:
        pipe = make_pipeline(*args, **kwargs)
        execute = pipe.execute

        async def timed_execute(*a: Any, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                return await execute(*a, **kw)
            finally:
                observe("pipeline", started)

        pipe.execute = timed_execute  # type: ignore[method-assign]
        return pipe

    client.execute_command = timed_execute_command  # type: ignore[method-assign]
    client.pipeline = timed_pipeline  # type: ignore[method-assign]
    return client


def get_redis(request: Request) -> Redis:
    """The service's shared Redis client."""
    return core_state(request).redis


RedisDep = Annotated[Redis, Depends(get_redis)]
