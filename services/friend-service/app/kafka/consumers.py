"""Consumers: ``user.events`` into the users replica, ``user.online_status`` into the presence replica."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.users import UserReplica
from app.services.presence import PresenceReplica
from chat_shared.consumer import Handler
from chat_shared.events.envelope import EventEnvelope
from chat_shared.events.user import UserOffline, UserOnline, UserProfileUpdated, UserRegistered

REPLICA_GROUP = "friend-service.user-replica"
PRESENCE_GROUP = "friend-service.presence"


async def on_user_registered(session: AsyncSession, envelope: EventEnvelope, payload: Any) -> None:
    """Insert the user if absent (its version is ``created_at``, older than any update)."""
    assert isinstance(payload, UserRegistered)
    await UserReplica(session).upsert_if_newer(
        payload.user_id, payload.username, payload.display_name, payload.created_at
    )


async def on_profile_updated(session: AsyncSession, envelope: EventEnvelope, payload: Any) -> None:
    """Upsert the user only if this update is newer than the row."""
    assert isinstance(payload, UserProfileUpdated)
    await UserReplica(session).upsert_if_newer(
        payload.user_id, payload.username, payload.display_name, payload.updated_at
    )


REPLICA_HANDLERS: dict[str, Handler] = {
    "UserRegistered": on_user_registered,
    "UserProfileUpdated": on_profile_updated,
}


def presence_handlers(presence: PresenceReplica) -> dict[str, Handler]:
    """Handlers writing presence transitions to Redis."""

    async def on_online(session: AsyncSession, envelope: EventEnvelope, payload: Any) -> None:
        assert isinstance(payload, UserOnline)
        await presence.apply(payload.user_id, True, payload.at)

    async def on_offline(session: AsyncSession, envelope: EventEnvelope, payload: Any) -> None:
        assert isinstance(payload, UserOffline)
        await presence.apply(payload.user_id, False, payload.at)

    return {"UserOnline": on_online, "UserOffline": on_offline}
