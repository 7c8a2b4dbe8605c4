"""Events of the chat context: ``chat.events`` (rooms) and ``message.events`` (messages), keyed by room."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RoomCreated(_Payload):
    """A room exists with these members."""

    room_id: int
    type: str
    name: str | None = None
    member_ids: list[int]
    created_by: int
    at: datetime


class MemberJoined(_Payload):
    """``user_id`` joined the room (invited by ``by_user_id``)."""

    room_id: int
    user_id: int
    by_user_id: int
    member_ids: list[int]
    at: datetime


class MemberLeft(_Payload):
    """``user_id`` left the room."""

    room_id: int
    user_id: int
    member_ids: list[int]
    at: datetime


class MessagesRead(_Payload):
    """``user_id``'s read position in the room moved forward to ``last_read_seq``."""

    room_id: int
    user_id: int
    last_read_seq: int
    at: datetime


class MessageSent(_Payload):
    """A message was stored with ``seq``; ``message`` is the public message object."""

    room_id: int
    seq: int
    message: dict[str, Any]


class MessageEdited(_Payload):
    """The message's content changed."""

    room_id: int
    seq: int
    message: dict[str, Any]


class MessageDeleted(_Payload):
    """The message was soft-deleted."""

    room_id: int
    seq: int
    message: dict[str, Any]


class ReactionsChanged(_Payload):
    """The message's reactions changed."""

    room_id: int
    seq: int
    message: dict[str, Any]
