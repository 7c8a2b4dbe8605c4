"""Consumers: the permission replica (friend.events), the user-name replica (user.events) and the fan-out
of chat.events + message.events into members' stream logs."""

from __future__ import annotations

from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession

from app.repositories.permissions import PermissionRepository
from app.repositories.rooms import RoomRepository
from app.stream.hub import encode_data
from app.stream.log import SSE_EVENTS, Append, UserLog
from chat_shared.consumer import Handler
from chat_shared.events import EventEnvelope
from chat_shared.events import friend as fe
from chat_shared.events import user as ue

PERMISSIONS_GROUP = "chat-service.permissions"
USERS_GROUP = "chat-service.users"
FANOUT_GROUP = "chat-service.fanout"


async def on_friend_accepted(session: AsyncSession, _: EventEnvelope, p: fe.FriendRequestAccepted) -> None:
    await PermissionRepository(session).set_friendship(p.requester_id, p.addressee_id, True, p.at)


async def on_friend_removed(session: AsyncSession, _: EventEnvelope, p: fe.FriendRemoved) -> None:
    await PermissionRepository(session).set_friendship(p.user_id, p.friend_id, False, p.at)


async def on_blocked(session: AsyncSession, _: EventEnvelope, p: fe.UserBlocked) -> None:
    repo = PermissionRepository(session)
    await repo.set_block(p.blocker_id, p.blocked_id, True, p.at)
    await repo.set_friendship(p.blocker_id, p.blocked_id, False, p.at)  # a block ends any friendship


async def on_unblocked(session: AsyncSession, _: EventEnvelope, p: fe.UserUnblocked) -> None:
    await PermissionRepository(session).set_block(p.blocker_id, p.blocked_id, False, p.at)


async def on_user_registered(session: AsyncSession, _: EventEnvelope, p: ue.UserRegistered) -> None:
    await PermissionRepository(session).upsert_user(p.user_id, p.username, p.display_name, p.created_at)


async def on_user_updated(session: AsyncSession, _: EventEnvelope, p: ue.UserProfileUpdated) -> None:
    await PermissionRepository(session).upsert_user(p.user_id, p.username, p.display_name, p.updated_at)


PERMISSION_HANDLERS: dict[str, Handler] = {
    "FriendRequestAccepted": on_friend_accepted,
    "FriendRemoved": on_friend_removed,
    "UserBlocked": on_blocked,
    "UserUnblocked": on_unblocked,
}
USER_HANDLERS: dict[str, Handler] = {"UserRegistered": on_user_registered, "UserProfileUpdated": on_user_updated}


def stream_data(event_type: str, payload: Any) -> tuple[dict[str, Any], list[int] | None]:
    """The SSE ``data`` object of an event, and its recipients when the event names them (else: the
    room's current members)."""
    if event_type in ("MessageSent", "MessageEdited", "MessageDeleted", "ReactionsChanged"):
        return {"room_id": payload.room_id, "message": payload.message}, None
    if event_type == "MessagesRead":
        return {"room_id": payload.room_id, "user_id": payload.user_id, "last_read_seq": payload.last_read_seq}, None
    if event_type == "RoomCreated":
        room = {"id": payload.room_id, "type": payload.type, "name": payload.name, "member_ids": payload.member_ids}
        return {"room_id": payload.room_id, "room": room}, list(payload.member_ids)
    if event_type == "MemberJoined":
        return (
            {
                "room_id": payload.room_id,
                "user_id": payload.user_id,
                "by_user_id": payload.by_user_id,
                "member_ids": payload.member_ids,
            },
            list(payload.member_ids),
        )
    # MemberLeft: the remaining members and the one who left.
    return (
        {"room_id": payload.room_id, "user_id": payload.user_id, "member_ids": payload.member_ids},
        sorted({*payload.member_ids, payload.user_id}),
    )


class FanOut:
    """The fan-out of chat and message events into recipients' logs, done per batch: the members of every
    room in the batch in one query, and every append of the batch in one Redis round trip (S8: a query
    and a round trip per event were most of the consumer's cost)."""

    def __init__(self, user_log: UserLog) -> None:
        self.user_log = user_log

    def handlers(self) -> dict[str, Handler]:
        """One handler per chat/message event type."""
        return dict.fromkeys(SSE_EVENTS, self.handle)

    async def before(self, session: AsyncSession, events: list[tuple[EventEnvelope, Any]]) -> None:
        """Look up the members of every room whose events do not name their recipients (the ones that carry
        no member list, see :func:`stream_data`)."""
        rooms = sorted({p.room_id for _, p in events if not hasattr(p, "member_ids")})
        session.info["room_members"] = await RoomRepository(session).members_of(rooms) if rooms else {}
        session.info["appends"] = []

    async def handle(self, session: AsyncSession, envelope: EventEnvelope, payload: Any) -> None:
        """Queue the event for its recipients' logs (appended by :meth:`after`, in the batch's order)."""
        data, recipients = stream_data(envelope.event_type, payload)
        # Membership events carry the new member list: the batch's later events of that room use it.
        members: dict[int, list[int]] = session.info["room_members"]
        if hasattr(payload, "member_ids"):
            members[payload.room_id] = list(payload.member_ids)
        if recipients is None:
            recipients = members.get(payload.room_id, [])
        session.info["appends"].append(
            Append(
                str(envelope.event_id),
                recipients,
                SSE_EVENTS[envelope.event_type],
                encode_data(data),
                envelope.occurred_at.timestamp(),
            )
        )

    async def after(self, session: AsyncSession) -> None:
        """Append the batch's events, each once per event id (see :class:`UserLog`)."""
        try:
            await self.user_log.append_many(session.info.pop("appends", []))
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise ConnectionError(f"redis: {exc}") from exc  # transient: retried, never dead-lettered
