"""At most ``max_streams`` open streams per user, across every process: a new one closes the user's oldest.

Each open stream is a member ``<process token>:<number>`` of the user's sorted set ``chat:streams:{id}``,
scored by when it opened. Opening a stream is one script: add it, drop members older than a stream's
longest lifetime (a process that died without removing its own), and if the user has more than
``max_streams``, remove the oldest and ``PUBLISH`` ``close <member>`` on the user's wake-up channel, which
every process holding a stream of that user already listens to; the process named in the member closes it.
Closing a stream removes its member. One Redis round trip per open and per close, none while streams idle.
"""

from __future__ import annotations

import secrets
import time
from typing import NamedTuple

from redis.asyncio import Redis

from app.stream.log import channel

_OPEN = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2] - ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
if extra <= 0 then
  return {}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, extra - 1)
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, extra - 1)
for _, member in ipairs(oldest) do
  redis.call('PUBLISH', ARGV[5], 'close ' .. member)
end
return oldest
"""

CLOSE_PREFIX = "close "


class StreamId(NamedTuple):
    """A stream as the per-user set names it: the process holding it and its number there."""

    process: str
    number: int

    def member(self) -> str:
        return f"{self.process}:{self.number}"


def parse_close(message: str) -> StreamId | None:
    """The stream a ``close <member>`` wake-up names, or None for any other message."""
    if not message.startswith(CLOSE_PREFIX):
        return None
    process, _, number = message[len(CLOSE_PREFIX) :].rpartition(":")
    try:
        return StreamId(process, int(number))
    except ValueError:
        return None


def streams_key(user_id: int) -> str:
    """The Redis key of a user's open streams."""
    return f"chat:streams:{user_id}"


class StreamLimit:
    """Counts a user's open streams in Redis and names the ones a new stream pushes out."""

    def __init__(self, redis: Redis, max_streams: int, max_lifetime_s: float) -> None:
        self.redis = redis
        self.max_streams = max_streams
        #: A stream lives at most its lifetime plus the 10 % jitter; a member older than that is a leftover.
        self._longest_ms = int(max_lifetime_s * 1.1 * 1000) + 60_000
        #: Names this process's streams in the shared sets.
        self.process = secrets.token_hex(6)
        self._open = redis.register_script(_OPEN)

    async def opened(self, user_id: int, number: int) -> list[StreamId]:
        """Record a new stream; the user's streams it pushes out (their processes are told to close them)."""
        members = await self._open(
            keys=[streams_key(user_id)],
            args=[
                StreamId(self.process, number).member(),
                int(time.time() * 1000),
                self.max_streams,
                self._longest_ms,
                channel(user_id),
            ],
        )
        return [found for m in members or () if (found := parse_close(CLOSE_PREFIX + str(m))) is not None]

    async def closed(self, user_id: int, number: int) -> None:
        """Forget a stream that ended."""
        await self.redis.zrem(streams_key(user_id), StreamId(self.process, number).member())
