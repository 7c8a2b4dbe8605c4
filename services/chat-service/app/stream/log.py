"""The live log: every event's body stored once in Redis, and per user a log of references to it.

* ``chat:events`` — one Redis Stream of event bodies (``<event> <t> <data>``), each stored once however many
  recipients it has; trimmed to the log's retention (24 h) and to at most ``max_events`` bodies.
* ``stream:user:{id}`` — per user, entries of one field ``r``: the id of the body in ``chat:events``. The
  entry id is the SSE ``id``; replay is ``XRANGE`` after it, each reference read back in the same script.
* ``chat:fanout:{event_id}`` — the claim that appends an event once per event id; it lives for the fan-out's
  redelivery window (15 min), not for the topics' retention.

An append is one Lua script: it claims the event id (``SET NX``), stores the body, appends a reference to
every recipient's log and ``PUBLISH``es a wake-up on ``chat:user:{id}`` carrying the entry and the id before
it — all or nothing, so a redelivered event is never appended twice and a crash cannot append it to only
some members. The claim is the script's first write: on a full Redis (``noeviction``) the script is refused
before it writes anything.

A full Redis degrades instead of stopping the fan-out: the oldest quarter of the bodies is dropped to make
room and the refused appends are tried once more; what still does not fit is dropped, the recipients' logs
are deleted (a resume from before the hole cannot find its id) and their open streams are told to ``reset``
(clients re-sync through REST). A log entry whose body is gone (dropped, or older than the retention) reads
back as a ``reset`` at its place. The budget these limits give is in docs/chat-service.md ("Live log memory").
The in-process Redis of ``make dev`` runs the same scripts (see :func:`chat_shared.redis.create_redis`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import structlog
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError

log = structlog.get_logger("app.stream.log")

BODIES = "chat:events"

_APPEND = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return 0
end
local ref = redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[5], '*', 'b', ARGV[4])
if redis.call('XLEN', KEYS[2]) > tonumber(ARGV[6]) then
  redis.call('XTRIM', KEYS[2], 'MAXLEN', '~', ARGV[6])
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1][1]
for i = 3, #KEYS do
  local last = redis.call('XREVRANGE', KEYS[i], '+', '-', 'COUNT', 1)
  local prev = last[1] and last[1][1] or '0-0'
  local id = redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[2], '*', 'r', ref)
  redis.call('XTRIM', KEYS[i], 'MINID', '~', oldest)
  redis.call('EXPIRE', KEYS[i], ARGV[3])
  redis.call('PUBLISH', ARGV[7 + i - 3], prev .. ' ' .. id .. ' ' .. ARGV[4])
end
return 1
"""

# A user's entries after an id, each with its body (none when the body is gone).
_READ = """
local entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
local out = {}
for i, entry in ipairs(entries) do
  local fields = entry[2]
  local body = fields[1] == 'r' and redis.call('XRANGE', KEYS[2], fields[2], fields[2])[1]
  if body then
    out[i] = {entry[1], body[2][2]}
  else
    out[i] = {entry[1]}
  end
end
return out
"""

# Make room on a full Redis: drop the oldest quarter of the bodies (XTRIM needs no memory).
_RELIEVE = """
local n = redis.call('XLEN', KEYS[1])
redis.call('XTRIM', KEYS[1], 'MAXLEN', math.floor(n * 3 / 4))
return n - redis.call('XLEN', KEYS[1])
"""

# Events that cannot be kept: their recipients' logs go (DEL needs no memory) and their streams reset.
_DROP = """
for i = 1, #KEYS do
  redis.call('DEL', KEYS[i])
  redis.call('PUBLISH', ARGV[i], ARGV[#ARGV])
end
return #KEYS
"""

Entry = tuple[str, dict[str, str]]

#: The wake-up that tells a user's streams their log lost events: each sends ``reset`` and goes on live.
RESET_WAKE_UP = "reset"
RESET_EVENT = "reset"


def reset_data(reason: str) -> str:
    """The ``data`` of a ``reset`` event."""
    return json.dumps({"reason": reason})


#: An entry whose body is gone: the client re-syncs through REST from there.
GAP_FIELDS = {"e": RESET_EVENT, "d": reset_data("events were dropped from the live log; re-sync through the REST API")}


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


#: How long an event id stays claimed: a redelivery comes from the last batch whose offsets were not committed,
#: which a rebalance hands over within the consumer's poll interval (5 min); three times that, with margin.
DEDUPE_TTL_S = 15 * 60


class Append(NamedTuple):
    """One event for its recipients' logs."""

    event_id: str
    user_ids: list[int]
    event: str
    data: str
    at: float


def dedupe_key(event_id: str) -> str:
    """The claim that makes an event's append happen once (``SET NX`` in the append script)."""
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

    def __init__(
        self,
        redis: Redis,
        maxlen: int = 1000,
        ttl_s: int = 24 * 3600,
        max_events: int = 100_000,
        dedupe_ttl_s: int = DEDUPE_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.maxlen = maxlen
        self.ttl_s = ttl_s
        self.max_events = max_events
        self.dedupe_ttl_s = dedupe_ttl_s
        self._clock = clock
        self._append = redis.register_script(_APPEND)
        self._read = redis.register_script(_READ)
        self._relieve = redis.register_script(_RELIEVE)
        self._drop = redis.register_script(_DROP)

    def _script_call(self, append: Append) -> tuple[list[str], list[Any]]:
        keys = [dedupe_key(append.event_id), BODIES, *(stream_key(u) for u in append.user_ids)]
        oldest_kept = int((self._clock() - self.ttl_s) * 1000)
        args: list[Any] = [
            self.dedupe_ttl_s,
            self.maxlen,
            self.ttl_s,
            f"{append.event} {append.at!r} {append.data}",
            f"{oldest_kept}-0",
            self.max_events,
            *(channel(u) for u in append.user_ids),
        ]
        return keys, args

    async def _run(self, appends: list[Append], prelude: Prelude | None = None) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            if prelude is not None:
                await prelude(pipe)
            skip = len(pipe)
            for append in appends:
                keys, args = self._script_call(append)
                await self._append(keys=keys, args=args, client=pipe)
            results: list[Any] = await pipe.execute(raise_on_error=False)
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, OutOfMemoryError):
                raise result
        return results[skip:]

    async def append_many(self, appends: list[Append], prelude: Prelude | None = None) -> list[bool]:
        """Append several events in one round trip: one script call each, run by Redis in this order, each
        all-or-nothing and once per event id (a batch cut short by a crash is redelivered: the appended
        ones are skipped, the rest appended). ``prelude`` queues its commands first, on the same trip. True
        for each event appended by this call; an event Redis had no room for is dropped (its recipients'
        streams reset) and gives False.

        On a full Redis the prelude's own writes may be refused too; the retry of the refused appends runs
        without it, as what the prelude did mark (the dedupe keys of stale events) stays marked."""
        appends = [a for a in appends if a.user_ids]
        if not appends:
            return []
        results = await self._run(appends, prelude)
        full = [i for i, r in enumerate(results) if isinstance(r, OutOfMemoryError)]
        if full:
            first = full[0]
            freed = await self._relieve(keys=[BODIES])
            if len(full) == len(results) - first:  # the refused ones are the batch's tail: order is kept
                results[first:] = await self._run(appends[first:])
            dropped = [a for a, r in zip(appends, results, strict=True) if isinstance(r, OutOfMemoryError)]
            log.error("live_log_full", bodies_dropped=freed, events_dropped=len(dropped), refused=len(full))
            if dropped:
                await self.reset_users(sorted({u for a in dropped for u in a.user_ids}))
        return [r is not None and not isinstance(r, Exception) and bool(r) for r in results]

    async def append(self, event_id: str, user_ids: list[int], event: str, data: str, at: float) -> bool:
        """Append one event to each user's log, once per ``event_id``; False if it was already appended."""
        appended = await self.append_many([Append(event_id, user_ids, event, data, at)])
        return bool(appended and appended[0])

    async def reset_users(self, user_ids: list[int]) -> None:
        """Forget these users' logs and tell their open streams to ``reset`` (works on a full Redis)."""
        if user_ids:
            await self._drop(
                keys=[stream_key(u) for u in user_ids], args=[*(channel(u) for u in user_ids), RESET_WAKE_UP]
            )

    async def latest_id(self, user_id: int) -> str:
        """The id of the user's newest entry, or ``0-0``."""
        entries = await self.redis.xrevrange(stream_key(user_id), count=1)
        return str(entries[0][0]) if entries else "0-0"

    async def has(self, user_id: int, entry_id: str) -> bool:
        """Whether the entry is still retained (then everything after it is too: no gap)."""
        return bool(await self.redis.xrange(stream_key(user_id), min=entry_id, max=entry_id, count=1))

    async def after(self, user_id: int, entry_id: str, count: int) -> list[Entry]:
        """Up to ``count`` entries strictly after ``entry_id``, oldest first; a run of entries whose bodies are
        gone reads as one ``reset`` at the last of them."""
        raw: Any = await self._read(keys=[stream_key(user_id), BODIES], args=[entry_id, count])
        entries: list[Entry] = []
        for item in raw or ():
            entry_id = str(item[0])
            if len(item) < 2:
                if entries and entries[-1][1] is GAP_FIELDS:
                    entries.pop()
                entries.append((entry_id, GAP_FIELDS))
                continue
            event, at, data = str(item[1]).split(" ", 2)
            entries.append((entry_id, {"e": event, "d": data, "t": at}))
        return entries
