"""Presence on the stream: ``UserOnline``/``UserOffline`` (``user.online_status``) become an ephemeral
``presence.updated`` on the open streams of the user's friends (from the permission replica, never across a
block). Never stored nor replayed: a reconnecting client re-reads ``GET /friends``."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import metrics
from app.repositories.permissions import PermissionRepository
from app.stream.ephemeral import PRESENCE, EphemeralBus
from chat_shared.consumer import Handlers
from chat_shared.events import EventEnvelope
from chat_shared.events.user import UserOffline, UserOnline
from chat_shared.schemas import rfc3339

PRESENCE_GROUP = "chat-service.presence"


class PresenceRelay:
    """The presence consumer's handlers. A change older than ``max_age_s`` is no longer news (a consumer
    catching up after downtime would otherwise replay an hour of stale flips onto live streams)."""

    def __init__(self, bus: EphemeralBus, max_age_s: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        self.bus = bus
        self.max_age_s = max_age_s
        self._clock = clock

    def handlers(self) -> Handlers:
        return {UserOnline: self.on_change, UserOffline: self.on_change}

    async def on_change(self, session: AsyncSession, event: UserOnline | UserOffline, envelope: EventEnvelope) -> None:
        if self._clock() - event.at.timestamp() > self.max_age_s:
            metrics.PRESENCE_STALE.inc()
            return
        friends = await PermissionRepository(session).friends_of(event.user_id)
        data = {"user_id": event.user_id, "is_online": isinstance(event, UserOnline), "last_seen_at": rfc3339(event.at)}
        await self.bus.publish(PRESENCE, friends, data)
