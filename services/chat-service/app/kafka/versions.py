"""The fan-out keeps each message's newest snapshot: a message event older than one already delivered for the
same message is not delivered.

Why it is needed: an edit, a deletion or a reaction writes Mongo (taking the next version) and then commits
its outbox row; two concurrent changes of one message can commit in the other order, so ``message.events``
may carry version 3 before version 2. Delivering both would leave a client that trusts the last frame on
the older state.

Why it costs nothing per event: the check is one Lua script per batch, queued on the fan-out's one Redis
pipeline ahead of the appends. For each change event it compares the event's version with the newest one
delivered, kept in ``chat:msgver:{message_id}`` as ``"<version> <event id>"`` for an hour (reordering spans
the few milliseconds between a Mongo write and its commit; a redelivery from further back is caught by the
event-id dedupe key anyway). An older event (or a repeat of the same version under another event id: an
idempotent retry that changed nothing) has its dedupe key claimed, so the append queued after it in the same
pipeline finds the key and appends nothing — the log's own once-per-event rule does the dropping. A
redelivery of the delivered event itself (same id) passes and is deduplicated as before. A key per message
rather than a hash per room: each expires on its own, so memory follows the changes of the last hour. Other
clients' commands may run between the check and the append; only a second consumer of the same partition
(the overlap of a rebalance) could slip an older snapshot in there, and a client's own version check drops it.

``MessageSent`` needs no check: a message's changes start only after its send committed, so its row comes
first in the outbox and on the topic, and the hot path stays one script per send.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from redis.asyncio import Redis

from app.stream.log import DEDUPE_TTL_S, dedupe_key

VERSION_TTL_S = 3600

_KEEP_NEWEST = """
for i = 1, #KEYS, 2 do
  local version, event_id = ARGV[i + 2], ARGV[i + 3]
  local seen = redis.call('GET', KEYS[i])
  local stale = false
  if seen then
    local space = string.find(seen, ' ', 1, true)
    local seen_version = tonumber(string.sub(seen, 1, space - 1))
    local seen_event = string.sub(seen, space + 1)
    stale = tonumber(version) < seen_version or (tonumber(version) == seen_version and event_id ~= seen_event)
  end
  if stale then
    redis.call('SET', KEYS[i + 1], '1', 'EX', ARGV[2])
  else
    redis.call('SET', KEYS[i], version .. ' ' .. event_id, 'EX', ARGV[1])
  end
end
return 0
"""


class Change(NamedTuple):
    """A message event to check: which message, at which version, under which event id."""

    message_id: str
    version: int
    event_id: str


def version_key(message_id: str) -> str:
    """The newest delivered version of a message (with its event id)."""
    return f"chat:msgver:{message_id}"


class MessageVersions:
    """Queues the check of a batch's message changes on the fan-out's pipeline."""

    def __init__(self, redis: Redis) -> None:
        self._script = redis.register_script(_KEEP_NEWEST)

    async def queue(self, pipe: Any, changes: list[Change]) -> None:
        """Queue one check of ``changes`` (in batch order) on ``pipe``, before the batch's appends."""
        if not changes:
            return
        keys: list[str] = []
        args: list[Any] = [VERSION_TTL_S, DEDUPE_TTL_S]
        for change in changes:
            keys += [version_key(change.message_id), dedupe_key(change.event_id)]
            args += [change.version, change.event_id]
        await self._script(keys=keys, args=args, client=pipe)
