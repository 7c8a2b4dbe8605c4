"""Consumers: the replicas (``user.events``, ``chat.events``, ``friend.events``), presence
(``user.online_status``) and the push decisions (``message.events``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.models.delivery import Mail, MailKind, QueueStatus
from app.repositories.queues import PushQueue
from app.repositories.replica import BlockReplica, MemberReplica, UserReplica
from app.repositories.subscriptions import SubscriptionRepository
from app.services.planner import PushPlanner
from chat_shared.consumer import Handler, Handlers
from chat_shared.dialect import upsert
from chat_shared.events.chat import MemberJoined, MemberLeft, MessageSent, RoomCreated, RoomSettingsChanged
from chat_shared.events.envelope import EventEnvelope
from chat_shared.events.friend import UserBlocked, UserUnblocked
from chat_shared.events.user import UserDeleted, UserProfileUpdated, UserRegistered
from chat_shared.mail.locale import as_locale

REPLICA_GROUP = "notification-service.replicas"
PRESENCE_GROUP = "notification-service.presence"
PUSH_GROUP = "notification-service.pushes"


def on_user_registered(clock: Callable[[], float]) -> Handler:
    """Replicate the user and queue their welcome mail (once: the queue row is unique per user and kind),
    due now on the dispatchers' clock."""

    async def handle(session: AsyncSession, event: UserRegistered, _: EventEnvelope) -> None:
        now = datetime.fromtimestamp(clock(), UTC)
        await register(session, event, now)

    return handle


async def register(session: AsyncSession, event: UserRegistered, now: datetime) -> None:
    """The replica row and the welcome mail of a new user."""
    await UserReplica(session).upsert_if_newer(
        event.user_id, event.username, event.display_name, event.created_at, event.email, event.locale
    )
    if event.email:
        await session.execute(
            upsert(
                session,
                Mail,
                {
                    "user_id": event.user_id,
                    "kind": MailKind.WELCOME.value,
                    "to_address": event.email,
                    "locale": as_locale(event.locale),
                    "display_name": event.display_name,
                    "username": event.username,
                    "status": QueueStatus.PENDING.value,
                    "due_at": now,
                    "attempts": 0,
                    "created_at": now,
                },
                key=[Mail.user_id, Mail.kind],
                update=lambda new: {"user_id": new.user_id},
            )
        )


async def on_profile_updated(session: AsyncSession, event: UserProfileUpdated, _: EventEnvelope) -> None:
    await UserReplica(session).upsert_if_newer(event.user_id, event.username, event.display_name, event.updated_at)


async def on_user_deleted(session: AsyncSession, event: UserDeleted, _: EventEnvelope) -> None:
    """Erase what this service holds of the user (idempotent: a replay finds nothing left)."""
    await SubscriptionRepository(session).delete_user(event.user_id)
    await PushQueue(session).delete_user(event.user_id)
    await MemberReplica(session).delete_user(event.user_id)
    await BlockReplica(session).delete_user(event.user_id)
    await UserReplica(session).delete(event.user_id)


async def on_members(session: AsyncSession, event: RoomCreated | MemberJoined | MemberLeft, _: EventEnvelope) -> None:
    """Each membership event carries the room's whole member list."""
    await MemberReplica(session).set_members(event.room_id, event.member_ids)


async def on_settings(session: AsyncSession, event: RoomSettingsChanged, _: EventEnvelope) -> None:
    await MemberReplica(session).set_settings(event.room_id, event.user_id, event.muted_until, event.notify.value)


async def on_blocked(session: AsyncSession, event: UserBlocked, _: EventEnvelope) -> None:
    await BlockReplica(session).add(event.blocker_id, event.blocked_id)


async def on_unblocked(session: AsyncSession, event: UserUnblocked, _: EventEnvelope) -> None:
    await BlockReplica(session).remove(event.blocker_id, event.blocked_id)


def replica_handlers(clock: Callable[[], float]) -> Handlers:
    """The handlers of the replicas' consumer group."""
    return {
        UserRegistered: on_user_registered(clock),
        UserProfileUpdated: on_profile_updated,
        UserDeleted: on_user_deleted,
        RoomCreated: on_members,
        MemberJoined: on_members,
        MemberLeft: on_members,
        RoomSettingsChanged: on_settings,
        UserBlocked: on_blocked,
        UserUnblocked: on_unblocked,
    }


def push_handlers(planner: PushPlanner) -> Handlers:
    """The decision per ``MessageSent``."""

    async def on_message_sent(session: AsyncSession, event: MessageSent, _: EventEnvelope) -> None:
        await planner.on_message(session, event)

    return {MessageSent: on_message_sent}
