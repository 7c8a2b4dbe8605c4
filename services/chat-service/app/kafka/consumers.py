"""Consumers: the permission replica (friend.events), the user-name replica (user.events) and the fan-out
of chat.events + message.events into members' stream logs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeAlias, assert_never

from sqlalchemy.ext.asyncio import AsyncSession

from app.kafka.versions import Change, MessageVersions
from app.repositories.permissions import PermissionRepository
from app.repositories.rooms import RoomRepository
from app.stream.hub import encode_data
from app.stream.log import Append, UserLog
from chat_shared.consumer import Handlers
from chat_shared.events import DomainEvent, EventEnvelope
from chat_shared.events.chat import (
    MemberJoined,
    MemberLeft,
    MemberRoleChanged,
    MessageDeleted,
    MessageEdited,
    MessageEvent,
    MessageSent,
    MessagesRead,
    ReactionsChanged,
    RoomCreated,
    RoomEvent,
    RoomUpdated,
)
from chat_shared.events.friend import FriendRemoved, FriendRequestAccepted, UserBlocked, UserUnblocked
from chat_shared.events.user import UserProfileUpdated, UserRegistered

PERMISSIONS_GROUP = "chat-service.permissions"
USERS_GROUP = "chat-service.users"
FANOUT_GROUP = "chat-service.fanout"


async def on_friend_accepted(session: AsyncSession, event: FriendRequestAccepted, _: EventEnvelope) -> None:
    await PermissionRepository(session).set_friendship(event.requester_id, event.addressee_id, True, event.at)


async def on_friend_removed(session: AsyncSession, event: FriendRemoved, _: EventEnvelope) -> None:
    await PermissionRepository(session).set_friendship(event.user_id, event.friend_id, False, event.at)


async def on_blocked(session: AsyncSession, event: UserBlocked, _: EventEnvelope) -> None:
    repo = PermissionRepository(session)
    await repo.set_block(event.blocker_id, event.blocked_id, True, event.at)
    await repo.set_friendship(event.blocker_id, event.blocked_id, False, event.at)  # a block ends any friendship


async def on_unblocked(session: AsyncSession, event: UserUnblocked, _: EventEnvelope) -> None:
    await PermissionRepository(session).set_block(event.blocker_id, event.blocked_id, False, event.at)


async def on_user_registered(session: AsyncSession, event: UserRegistered, _: EventEnvelope) -> None:
    await PermissionRepository(session).upsert_user(event.user_id, event.username, event.display_name, event.created_at)


async def on_user_updated(session: AsyncSession, event: UserProfileUpdated, _: EventEnvelope) -> None:
    await PermissionRepository(session).upsert_user(event.user_id, event.username, event.display_name, event.updated_at)


PERMISSION_HANDLERS: Handlers = {
    FriendRequestAccepted: on_friend_accepted,
    FriendRemoved: on_friend_removed,
    UserBlocked: on_blocked,
    UserUnblocked: on_unblocked,
}
USER_HANDLERS: Handlers = {UserRegistered: on_user_registered, UserProfileUpdated: on_user_updated}

#: The events whose payload carries the room's member list after the change.
MembershipEvent: TypeAlias = RoomCreated | MemberJoined | MemberLeft
#: The events the fan-out writes to the stream.
StreamEvent: TypeAlias = MessageEvent | MessagesRead | MembershipEvent | RoomUpdated | MemberRoleChanged

#: The SSE event name of each event the fan-out delivers (CONTRACT §6).
SSE_EVENTS: dict[type[StreamEvent], str] = {
    MessageSent: "message.created",
    MessageEdited: "message.updated",
    MessageDeleted: "message.deleted",
    ReactionsChanged: "reaction.updated",
    MessagesRead: "read.updated",
    RoomCreated: "room.created",
    MemberJoined: "room.member_joined",
    MemberLeft: "room.member_left",
    RoomUpdated: "room.updated",
    MemberRoleChanged: "room.member_role_changed",
}


def stream_data(event: StreamEvent) -> dict[str, Any]:
    """The SSE ``data`` object of an event."""
    match event:
        case MessageEvent():
            return {"room_id": event.room_id, "message": event.message.model_dump(mode="json")}
        case MessagesRead():
            return {"room_id": event.room_id, "user_id": event.user_id, "last_read_seq": event.last_read_seq}
        case RoomCreated():
            room = {"id": event.room_id, "type": event.type, "name": event.name, "member_ids": event.member_ids}
            return {"room_id": event.room_id, "room": room}
        case MemberJoined():
            return {
                "room_id": event.room_id,
                "user_id": event.user_id,
                "by_user_id": event.by_user_id,
                "member_ids": event.member_ids,
            }
        case MemberLeft():
            return {
                "room_id": event.room_id,
                "user_id": event.user_id,
                "removed_by": event.removed_by,
                "member_ids": event.member_ids,
            }
        case RoomUpdated():
            return {"room_id": event.room_id, "name": event.name, "by_user_id": event.by_user_id}
        case MemberRoleChanged():
            return {
                "room_id": event.room_id,
                "user_id": event.user_id,
                "role": event.role.value,
                "by_user_id": event.by_user_id,
            }
    assert_never(event)


def membership_recipients(event: MembershipEvent) -> list[int]:
    """Who sees a membership event: the members after it, and the one who left."""
    match event:
        case RoomCreated() | MemberJoined():
            return list(event.member_ids)
        case MemberLeft():
            return sorted({*event.member_ids, event.user_id})
    assert_never(event)


@dataclass
class FanOutBatch:
    """One consumer batch of the fan-out: the members of its rooms and the appends it queued.

    ``current`` is the database's membership of every room whose events carry no member list, read when the
    batch starts. Each event was published after its transaction committed, so that membership is newer than
    any event of the batch: whoever is not in it has left (or never joined) and receives none of the room's
    later events — removal wins.

    Messages (``message.events``) and membership (``chat.events``) travel apart, so a batch's order says
    nothing about which came first in the room. What does is the seq: a join or leave records the room's last
    seq at the change (``after_seq``), under the room's lock that every send's seq takes too. A member who
    joins in the batch receives a message only if its seq is above their join, whatever the order the batch
    holds them in (``positions``); one whose last change in the batch is a leave receives none of the room's
    messages in it (removal wins: an earlier batch, read after the leave's commit, withheld the ones before
    the leave already, and a removed member's messages stay a prefix of the room's, without a hole).

    Membership events without ``after_seq`` (an older producer's) narrow the room's later events of the batch
    to the members they name (``members``), in the batch's order.
    """

    current: dict[int, list[int]]
    members: dict[int, list[int]] = field(default_factory=dict)
    #: Per room and user, the batch's joins (True) and leaves (False) at their seq position, in the room's order.
    positions: dict[int, dict[int, list[tuple[int, bool]]]] = field(default_factory=dict)
    appends: list[Append] = field(default_factory=list)
    #: The batch's message changes, checked against the newest delivered versions (see app.kafka.versions).
    changes: list[Change] = field(default_factory=list)

    def read_positions(self, events: Sequence[DomainEvent]) -> None:
        """Record the batch's joins and leaves at their seq before any event is handled: a message ahead of
        them in the batch is placed by them as well."""
        for event in events:
            if isinstance(event, MemberJoined | MemberLeft) and event.after_seq is not None:
                # A room's membership events come in the room's order (one topic, keyed by room).
                marks = self.positions.setdefault(event.room_id, {}).setdefault(event.user_id, [])
                marks.append((event.after_seq, isinstance(event, MemberJoined)))

    def recipients(self, event: StreamEvent) -> list[int]:
        """Who receives ``event``, as of its place in the room."""
        if isinstance(event, MembershipEvent):
            if isinstance(event, RoomCreated) or event.after_seq is None:
                self.members[event.room_id] = list(event.member_ids)
            return membership_recipients(event)
        current = self.current.get(event.room_id, [])
        named = self.members.get(event.room_id)
        now = set(current)
        recipients = current if named is None else [u for u in named if u in now]
        positions = self.positions.get(event.room_id)
        if not positions or not isinstance(event, MessageEvent):
            return recipients
        unchanged = [u for u in recipients if u not in positions]
        at_seq = [u for u, marks in positions.items() if _member_at(marks, event.seq, u in now)]
        return sorted({*unchanged, *at_seq})

    def add(self, event: StreamEvent, envelope: EventEnvelope) -> None:
        """Queue ``event`` for its recipients' logs."""
        if isinstance(event, MessageEvent) and not isinstance(event, MessageSent):
            self.changes.append(Change(event.message.id, event.message.version, str(envelope.event_id)))
        self.appends.append(
            Append(
                str(envelope.event_id),
                self.recipients(event),
                SSE_EVENTS[type(event)],
                encode_data(stream_data(event)),
                envelope.occurred_at.timestamp(),
            )
        )


def _member_at(marks: list[tuple[int, bool]], seq: int, member_now: bool) -> bool:
    """Whether a user whose joins and leaves in the batch are ``marks`` (by position) receives the message at
    ``seq``: only after their last change, if that is a join and the database still counts them (a later
    leave whose event is not read yet wins)."""
    position, joined = marks[-1]
    return joined and seq > position and member_now


class FanOut:
    """The fan-out of chat and message events into recipients' logs, done per batch: the members of every
    room in the batch in one query, and every append of the batch in one Redis round trip (a query and a
    round trip per event would be most of the consumer's cost, S8).

    It is the consumer's batch hooks and its one handler; the current :class:`FanOutBatch` lives from
    :meth:`before` to :meth:`after`. One ``FanOut`` serves one consumer, whose batches run one at a time.
    """

    def __init__(self, user_log: UserLog) -> None:
        self.user_log = user_log
        self.versions = MessageVersions(user_log.redis)
        self._batch: FanOutBatch | None = None

    def handlers(self) -> Handlers:
        """The one handler, for every event the stream carries."""
        return dict.fromkeys(SSE_EVENTS, self.handle)

    async def before(self, session: AsyncSession, events: Sequence[DomainEvent]) -> None:
        """Start a batch, with the members of every room whose events do not name their recipients."""
        rooms = sorted({e.room_id for e in events if isinstance(e, RoomEvent) and not isinstance(e, MembershipEvent)})
        self._batch = FanOutBatch(await RoomRepository(session).members_of(rooms) if rooms else {})
        self._batch.read_positions(events)

    async def handle(self, session: AsyncSession, event: StreamEvent, envelope: EventEnvelope) -> None:
        """Queue the event in the batch (appended by :meth:`after`, in the batch's order)."""
        self._current().add(event, envelope)

    async def after(self, session: AsyncSession) -> None:
        """Append the batch's events, each once per event id (see :class:`UserLog`)."""
        batch, self._batch = self._current(), None
        # Redis away: transient for the consumer runner (retried, never dead-lettered); Redis full: handled
        # by the log (the events it has no room for reset their recipients' streams).
        check = partial(self.versions.queue, changes=batch.changes) if batch.changes else None
        await self.user_log.append_many(batch.appends, check)

    def _current(self) -> FanOutBatch:
        if self._batch is None:
            raise RuntimeError("the fan-out handles events only between its consumer's batch hooks")
        return self._batch
