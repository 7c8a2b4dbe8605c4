"""Who gets a push for a message, and when: the decision made for every ``MessageSent``.

A member is pushed to when they are not the sender, are offline, have not muted the room, their ``notify``
setting admits the message (``mentions``: only when the message mentions them), have not blocked the sender
and have a subscription. Pushes to one user for one room collapse: at most one per window (10 s). The
window lives in Redis as the time the next push may go (``notif:next:{user}:{room}``, in ms); a message
arriving while a push for the room still waits is folded into it (its ``count`` grows), otherwise a push
is queued for now or for the window's end, whichever is later.

The queued rows are written in the consumer's transaction, the one that records the event as processed:
a replayed event finds its event id recorded and queues nothing, so nothing is sent twice. The Redis window
may run ahead of a transaction that then rolls back; a replay then only waits for the window's end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.metrics import DECISIONS
from app.models.delivery import QueueStatus
from app.repositories.queues import PushQueue
from app.repositories.replica import BlockReplica, MemberReplica, UserReplica
from app.repositories.subscriptions import PreferenceRepository, SubscriptionRepository
from chat_shared.events.chat import MessageSent, NotifyLevel
from chat_shared.presence import PresenceReplica

#: What a push names the sender when the users replica does not know them (yet).
UNKNOWN_SENDER = "Someone"


def window_key(user_id: int, room_id: int) -> str:
    """Redis key of the time (ms) the next push to ``user_id`` for ``room_id`` may go."""
    return f"notif:next:{user_id}:{room_id}"


@dataclass
class PushPlanner:
    """Turns a message into queued pushes."""

    settings: Settings
    redis: Redis
    presence: PresenceReplica
    clock: Callable[[], float] = time.time

    def admitted(
        self, member_user: int, notify: str, muted_until: datetime | None, event: MessageSent, now: datetime
    ) -> str | None:
        """Why the member's own settings refuse the message, or None when they admit it."""
        if muted_until is not None and muted_until > now:
            return "muted"
        if notify == NotifyLevel.NONE:
            return "notify_none"
        if notify == NotifyLevel.MENTIONS and member_user not in event.message.mentions:
            return "not_mentioned"
        return None

    async def recipients(self, session: AsyncSession, event: MessageSent, now: datetime) -> list[int]:
        """The members to push to, in user id order."""
        sender = event.message.sender_id
        candidates = []
        for member in await MemberReplica(session).of_room(event.room_id):
            if member.user_id == sender:
                continue
            refused = self.admitted(member.user_id, member.notify, member.muted_until, event, now)
            if refused:
                DECISIONS.labels(refused).inc()
            else:
                candidates.append(member.user_id)
        if not candidates:
            return []
        online = await self.presence.online(candidates)
        blockers = await BlockReplica(session).blockers_of(sender, candidates)
        chosen = []
        for user_id in sorted(candidates):
            if user_id in online:
                DECISIONS.labels("online").inc()
            elif user_id in blockers:
                DECISIONS.labels("blocked").inc()
            else:
                chosen.append(user_id)
        return chosen

    async def on_message(self, session: AsyncSession, event: MessageSent) -> None:
        """Queue (or fold into a waiting push) the pushes ``event`` makes."""
        message = event.message
        if message.deleted:
            return
        now_s = self.clock()
        now = datetime.fromtimestamp(now_s, UTC)
        users = await self.recipients(session, event, now)
        subscriptions = await SubscriptionRepository(session).of_users(users)
        DECISIONS.labels("no_subscription").inc(sum(1 for u in users if u not in subscriptions))
        users = [u for u in users if u in subscriptions]
        if not users:
            return
        show = await PreferenceRepository(session).show_preview(users)
        sender_name = (await UserReplica(session).names([message.sender_id])).get(message.sender_id, UNKNOWN_SENDER)
        text = message.content[: self.settings.preview_chars] if message.content else None
        fields: dict[str, Any] = {
            "message_id": message.id,
            "seq": event.seq,
            "sender_id": message.sender_id,
            "sender_name": sender_name,
            "message_at": message.created_at,
        }
        queue = PushQueue(session)
        merged: set[int] = set()
        for preview in (text, None):
            group = [u for u in users if (show[u] and text is not None) == (preview is not None)]
            merged |= await queue.merge(event.room_id, group, {**fields, "preview": preview})
        for _ in merged:
            DECISIONS.labels("collapsed").inc()
        fresh = [u for u in users if u not in merged]
        if fresh:
            await self._queue(queue, event.room_id, fresh, subscriptions, show, text, fields, now_s)

    async def _queue(
        self,
        queue: PushQueue,
        room_id: int,
        users: list[int],
        subscriptions: dict[int, list[Any]],
        show: dict[int, bool],
        text: str | None,
        fields: dict[str, Any],
        now_s: float,
    ) -> None:
        window_ms = int(self.settings.collapse_window_s * 1000)
        now_ms = int(now_s * 1000)
        keys = [window_key(u, room_id) for u in users]
        nexts = await self.redis.mget(keys)
        rows = []
        pipe = self.redis.pipeline(transaction=False)
        for user_id, key, raw in zip(users, keys, nexts, strict=True):
            due_ms = max(now_ms, int(raw) if raw is not None else 0)
            # The window outlives its end a little, so a late replay still sees it.
            pipe.set(key, due_ms + window_ms, px=due_ms + window_ms - now_ms + 60_000)
            due = datetime.fromtimestamp(due_ms / 1000, UTC)
            for subscription in subscriptions[user_id]:
                rows.append(
                    {
                        **fields,
                        "subscription_id": subscription.id,
                        "user_id": user_id,
                        "room_id": room_id,
                        "count": 1,
                        "preview": text if show[user_id] else None,
                        "status": QueueStatus.PENDING.value,
                        "due_at": due,
                        "attempts": 0,
                        "created_at": datetime.fromtimestamp(now_s, UTC),
                    }
                )
            DECISIONS.labels("queued").inc()
        await queue.add(rows)
        await pipe.execute()
