"""The per-user event log: a Redis Stream ``stream:user:{id}`` per user, written once per event by the fan-out.

The Redis entry id is the SSE ``id``; replay is ``XRANGE`` after it. An append is one Lua script: it
claims the event id (``SET NX``), appends the entry to every recipient's stream (``MAXLEN ~``), renews the
24 h expiry and ``PUBLISH``es a wake-up on ``chat:user:{id}`` carrying the entry and the id before it —
all or nothing, so a redelivered event is never appended twice and a crash cannot append it to only some
members. The in-process Redis of ``make dev`` runs the same script (see :func:`chat_shared.redis.create_redis`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from redis.asyncio import Redis

_APPEND = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  for i = 2, #KEYS do
    local last = redis.call('XREVRANGE', KEYS[i], '+', '-', 'COUNT', 1)
    local prev = last[1] and last[1][1] or '0-0'
    local id = redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[4], 'd', ARGV[5], 't', ARGV[6])
    redis.call('EXPIRE', KEYS[i], ARGV[3])
    redis.call('PUBLISH', ARGV[6 + i - 1], prev .. ' ' .. id .. ' ' .. ARGV[4] .. ' ' .. ARGV[6] .. ' ' .. ARGV[5])
  end
  return 1
end
return 0
"""

Entry = tuple[str, dict[str, str]]


class WakeUp(NamedTuple):
    """A wake-up on ``chat:user:{id}``: the new entry and the one before it in the user's log.

    A stream standing at ``prev`` can be written ``entry`` at once, without reading the log back (one Redis
    round trip per member per broadcast saved, S6); any other stream reads the log as before.
    """

    prev: str
    entry: Entry


def wake_up_message(prev: str, entry_id: str, event: str, at: str, data: str) -> str:
    """The wake-up's text (the Lua script builds the same): ``prev id event at data``."""
    return f"{prev} {entry_id} {event} {at} {data}"


def parse_wake_up(message: str) -> WakeUp | None:
    """The wake-up in a message, or None for one without the entry (an older process's bare id)."""
    parts = message.split(" ", 4)
    if len(parts) != 5:
        return None
    prev, entry_id, event, at, data = parts
    return WakeUp(prev, (entry_id, {"e": event, "d": data, "t": at}))


DEDUPE_TTL_S = 7 * 24 * 3600  # the topics' retention: a redelivery can only come from within it


class Append(NamedTuple):
    """One event for its recipients' logs."""

    event_id: str
    user_ids: list[int]
    event: str
    data: str
    at: float


def dedupe_key(event_id: str) -> str:
    """The key that marks an event appended (claimed by the append script, ``DEDUPE_TTL_S``)."""
    return f"chat:fanout:{event_id}"


#: Queues commands of its own on the append pipeline, ahead of the appends (one round trip for both).
Prelude = Callable[[Any], Awaitable[None]]


def stream_key(user_id: int) -> str:
    """The Redis key of a user's log."""
    return f"stream:user:{user_id}"


def channel(user_id: int) -> str:
    """The wake-up channel of a user (pub/sub ignores logical dbs, hence the ``chat:`` namespace)."""
    return f"chat:user:{user_id}"


def parse_user(channel_name: str) -> int | None:
    """The user id of a wake-up channel."""
    try:
        return int(channel_name.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None


def id_tuple(entry_id: str) -> tuple[int, int]:
    """``"1700000000000-3"`` → ``(1700000000000, 3)`` for comparisons; ValueError on garbage."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class UserLog:
    """Append to and read from users' logs."""

    def __init__(self, redis: Redis, maxlen: int = 1000, ttl_s: int = 24 * 3600) -> None:
        self.redis = redis
        self.maxlen = maxlen
        self.ttl_s = ttl_s
        self._script = redis.register_script(_APPEND)

    def _script_call(
        self, event_id: str, user_ids: list[int], event: str, data: str, at: float
    ) -> tuple[list[str], list[Any]]:
        keys = [dedupe_key(event_id), *(stream_key(u) for u in user_ids)]
        args: list[Any] = [
            DEDUPE_TTL_S,
            self.maxlen,
            self.ttl_s,
            event,
            data,
            repr(at),
            *(channel(u) for u in user_ids),
        ]
        return keys, args

    async def append_many(self, appends: list[Append], prelude: Prelude | None = None) -> list[bool]:
        """Append several events in one round trip: one script call each, run by Redis in this order, each
        all-or-nothing and once per event id (a batch cut short by a crash is redelivered: the appended
        ones are skipped, the rest appended). ``prelude`` queues its commands first, on the same trip."""
        appends = [a for a in appends if a.user_ids]
        if len(appends) <= 1 and prelude is None:
            return [await self.append(*a) for a in appends]
        pipe = self.redis.pipeline(transaction=False)
        if prelude is not None:
            await prelude(pipe)
        skip = len(pipe)
        for a in appends:
            keys, args = self._script_call(*a)
            await self._script(keys=keys, args=args, client=pipe)
        return [bool(result) for result in (await pipe.execute())[skip:]]

    async def append(self, event_id: str, user_ids: list[int], event: str, data: str, at: float) -> bool:
        """Append one event to each user's log, once per ``event_id``; False if it was already appended."""
        if not user_ids:
            return False
        keys, args = self._script_call(event_id, user_ids, event, data, at)
        return bool(await self._script(keys=keys, args=args))

    async def latest_id(self, user_id: int) -> str:
        """The id of the user's newest entry, or ``0-0``."""
        entries = await self.redis.xrevrange(stream_key(user_id), count=1)
        return str(entries[0][0]) if entries else "0-0"

    async def has(self, user_id: int, entry_id: str) -> bool:
        """Whether the entry is still retained (then everything after it is too: no gap)."""
        return bool(await self.redis.xrange(stream_key(user_id), min=entry_id, max=entry_id, count=1))

    async def after(self, user_id: int, entry_id: str, count: int) -> list[Entry]:
        """Up to ``count`` entries strictly after ``entry_id``, oldest first."""
        entries: Any = await self.redis.xrange(stream_key(user_id), min=f"({entry_id}", count=count)
        return [(str(i), dict(f)) for i, f in entries or ()]
