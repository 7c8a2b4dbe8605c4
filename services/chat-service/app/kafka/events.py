"""The events chat-service writes to its outbox (payload schemas live in ``chat_shared.events.chat``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chat_shared.events import new_event
from chat_shared.events.chat import (
    MemberJoined,
    MemberLeft,
    MessageDeleted,
    MessageEdited,
    MessageSent,
    MessagesRead,
    ReactionsChanged,
    RoomCreated,
)
from chat_shared.outbox import Outbox

PRODUCER = "chat-service"

_MESSAGE_EVENTS = {
    "MessageSent": MessageSent,
    "MessageEdited": MessageEdited,
    "MessageDeleted": MessageDeleted,
    "ReactionsChanged": ReactionsChanged,
}


def room_created(
    outbox: Outbox,
    session: AsyncSession,
    *,
    room_id: int,
    type_: str,
    name: str | None,
    member_ids: list[int],
    created_by: int,
    at: datetime,
) -> None:
    """``RoomCreated`` on ``chat.events``."""
    payload = RoomCreated(room_id=room_id, type=type_, name=name, member_ids=member_ids, created_by=created_by, at=at)
    outbox.add(session, new_event("RoomCreated", payload, PRODUCER), key=room_id)


def member_joined(
    outbox: Outbox,
    session: AsyncSession,
    *,
    room_id: int,
    user_id: int,
    by_user_id: int,
    member_ids: list[int],
    at: datetime,
) -> None:
    """``MemberJoined`` on ``chat.events``."""
    payload = MemberJoined(room_id=room_id, user_id=user_id, by_user_id=by_user_id, member_ids=member_ids, at=at)
    outbox.add(session, new_event("MemberJoined", payload, PRODUCER), key=room_id)


def member_left(
    outbox: Outbox, session: AsyncSession, *, room_id: int, user_id: int, member_ids: list[int], at: datetime
) -> None:
    """``MemberLeft`` on ``chat.events``."""
    payload = MemberLeft(room_id=room_id, user_id=user_id, member_ids=member_ids, at=at)
    outbox.add(session, new_event("MemberLeft", payload, PRODUCER), key=room_id)


def messages_read(
    outbox: Outbox, session: AsyncSession, *, room_id: int, user_id: int, last_read_seq: int, at: datetime
) -> None:
    """``MessagesRead`` on ``chat.events``."""
    payload = MessagesRead(room_id=room_id, user_id=user_id, last_read_seq=last_read_seq, at=at)
    outbox.add(session, new_event("MessagesRead", payload, PRODUCER), key=room_id)


def message_event(outbox: Outbox, session: AsyncSession, event_type: str, message: dict[str, Any]) -> None:
    """``MessageSent`` / ``MessageEdited`` / ``MessageDeleted`` / ``ReactionsChanged`` on ``message.events``,
    each carrying the whole public message (so the fan-out never reads MongoDB)."""
    payload = _MESSAGE_EVENTS[event_type](room_id=message["room_id"], seq=message["seq"], message=message)
    outbox.add(session, new_event(event_type, payload, PRODUCER), key=message["room_id"])
