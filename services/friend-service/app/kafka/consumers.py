"""Consumers: ``user.events`` into the users replica, ``user.online_status`` into the presence replica."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.users import UserReplica
from app.services.presence import PresenceReplica
from chat_shared.consumer import Handlers
from chat_shared.events.envelope import EventEnvelope
from chat_shared.events.user import UserOffline, UserOnline, UserProfileUpdated, UserRegistered

REPLICA_GROUP = "friend-service.user-replica"
PRESENCE_GROUP = "friend-service.presence"


async def on_user_registered(session: AsyncSession, event: UserRegistered, _: EventEnvelope) -> None:
    """Insert the user if absent (its version is ``created_at``, older than any update)."""
    await UserReplica(session).upsert_if_newer(event.user_id, event.username, event.display_name, event.created_at)


async def on_profile_updated(session: AsyncSession, event: UserProfileUpdated, _: EventEnvelope) -> None:
    """Upsert the user only if this update is newer than the row."""
    await UserReplica(session).upsert_if_newer(
        event.user_id, event.username, event.display_name, event.updated_at, event.avatar_url
    )


REPLICA_HANDLERS: Handlers = {UserRegistered: on_user_registered, UserProfileUpdated: on_profile_updated}


def presence_handlers(presence: PresenceReplica) -> Handlers:
    """Handlers writing presence transitions to Redis."""

    async def on_online(session: AsyncSession, event: UserOnline, _: EventEnvelope) -> None:
        await presence.apply(event.user_id, True, event.at)

    async def on_offline(session: AsyncSession, event: UserOffline, _: EventEnvelope) -> None:
        await presence.apply(event.user_id, False, event.at)

    return {UserOnline: on_online, UserOffline: on_offline}
