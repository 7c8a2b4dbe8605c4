"""Sends queued pushes: Web Push or FCM by the subscription's type."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.metrics import PUSH_DELAY, PUSH_DURATION, PUSHES, SUBSCRIPTIONS
from app.models.delivery import Push
from app.models.subscription import Subscription, SubscriptionType
from app.repositories.queues import PushQueue
from app.repositories.subscriptions import SubscriptionRepository
from app.schemas.notification import PushPayload, SenderOut
from app.services.dispatcher import Dispatcher
from app.services.fcm import Fcm
from app.services.planner import window_key
from app.services.push_result import Outcome, PushResult
from app.services.webpush import WebPush

#: Raise each window key (ms) to at least its argument, keeping the key a minute past the window's end.
HOLD_BACK = """
for i, key in ipairs(KEYS) do
  local wanted = tonumber(ARGV[i])
  local current = tonumber(redis.call('GET', key) or '0')
  if wanted > current then redis.call('SET', key, wanted, 'PX', 70000) end
end
return 0
"""


def payload_of(push: Push) -> PushPayload:
    """The §10 payload of a queued push."""
    return PushPayload(
        room_id=push.room_id,
        message_id=push.message_id,
        seq=push.seq,
        sender=SenderOut(id=push.sender_id, display_name=push.sender_name),
        preview=push.preview,
        count=push.count,
    )


def topic_of(push: Push) -> str:
    """The push's topic (RFC 8030 §5.4, ≤ 32 base64url characters): one per room, so a device that was away
    gets the room's newest push only."""
    return f"room-{push.room_id}"[:32]


class PushDispatcher(Dispatcher[Push]):
    """The dispatcher of the ``pushes`` queue."""

    name = "pushes"

    def __init__(self, *args: Any, webpush: WebPush, fcm: Fcm, redis: Redis, window_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.webpush = webpush
        self.fcm = fcm
        self.redis = redis
        self.window_s = window_s
        #: The subscription of each push being sent, read when it was claimed.
        self._targets: dict[int, Subscription] = {}

    async def prepare(self, session: AsyncSession, rows: list[Push]) -> None:
        ids = {row.subscription_id for row in rows}
        if ids:
            subs = {s.id: s for s in await session.scalars(select(Subscription).where(Subscription.id.in_(ids)))}
            for row in rows:
                if row.subscription_id in subs:
                    self._targets[row.id] = subs[row.subscription_id]

    def host(self, row: Push) -> str:
        sub = self._targets.get(row.id)
        return sub.host if sub is not None else "-"

    async def deliver(self, row: Push) -> PushResult:
        sub = self._targets.get(row.id)
        if sub is None:  # deleted since the push was queued
            return PushResult(Outcome.FAILED)
        payload = payload_of(row)
        started = time.perf_counter()
        if sub.type == SubscriptionType.FCM:
            result = await self.fcm.send(sub, payload.model_dump(), topic_of(row))
        else:
            body = payload.model_dump_json().encode()
            result = await self.webpush.send(sub, body, topic_of(row))
        PUSH_DURATION.labels(sub.type).observe(time.perf_counter() - started)
        if result.outcome == Outcome.SENT:
            PUSH_DELAY.observe(max(0.0, self.clock() - row.message_at.timestamp()))
        return result

    async def settle(self, session: AsyncSession, results: list[tuple[Push, PushResult]]) -> None:
        subscriptions = SubscriptionRepository(session)
        queue = PushQueue(session)
        # The window counts from when a push really went, not from when it was due: a push sent late
        # holds the next one of its user and room back, so two never arrive less than the window apart.
        until = self.now() + timedelta(seconds=self.window_s)
        sent_due: dict[tuple[int, int], datetime] = {}
        for row, result in results:
            if result.outcome == Outcome.SENT:
                key = (row.user_id, row.room_id)
                sent_due[key] = max(sent_due.get(key, row.due_at), row.due_at)
        for (user_id, room_id), due in sent_due.items():
            await queue.hold_back(user_id, room_id, due, until)
        sent_until = dict.fromkeys(sent_due, until)
        if sent_until:
            await self.redis.eval(
                HOLD_BACK,
                len(sent_until),
                *(window_key(u, r) for u, r in sent_until),
                *(int(until.timestamp() * 1000) for until in sent_until.values()),
            )
        for row, result in results:
            sub = self._targets.pop(row.id, None)
            if sub is not None:
                PUSHES.labels(sub.type, sub.host, result.outcome.value).inc()
            if result.outcome == Outcome.GONE and sub is not None:
                if await subscriptions.delete(sub.id):
                    SUBSCRIPTIONS.labels(sub.type, "gone").inc()
                await queue.delete_subscription(sub.id)
