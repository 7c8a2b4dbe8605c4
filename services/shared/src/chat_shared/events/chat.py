"""Events of the chat context: ``chat.events`` (rooms) and ``message.events`` (messages), keyed by room."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, Field

from chat_shared.events.base import DomainEvent
from chat_shared.events.topics import CHAT_EVENTS, MESSAGE_EVENTS
from chat_shared.schemas import Timestamp


class ReplyRef(BaseModel):
    """The quoted message of a reply; ``excerpt`` is its first 100 characters, null once it is deleted."""

    id: str
    seq: int
    sender_id: int
    excerpt: str | None


class AttachmentRef(BaseModel):
    """The file an image or file message carries, as it was verified when the message was sent. Download URLs
    are never part of it: they expire, so the service mints them for members on every read."""

    id: str
    filename: str
    content_type: str
    size: int
    width: int | None = None
    height: int | None = None
    #: Whether the image's thumbnail exists (it is made after the send; a ``MessageEdited`` tells).
    thumbnail: bool = False


class MessageSnapshot(BaseModel):
    """The public message object (chat-service's message resource) as it was when the event happened."""

    id: str
    room_id: int
    seq: int
    sender_id: int
    content: str | None
    message_type: str
    client_msg_id: str | None
    created_at: Timestamp
    edited_at: Timestamp | None
    deleted: bool
    reactions: dict[str, list[int]]
    reply_to: ReplyRef | None = None
    #: The members named by ``@username`` in ``content``, resolved when the message was sent or edited.
    mentions: list[int] = Field(default_factory=list)
    #: The file of an ``image`` or ``file`` message (null once the message is deleted).
    attachment: AttachmentRef | None = None
    #: 0 only in events of a producer that does not version messages.
    version: int = Field(
        0,
        description="1 when sent, +1 with each edit, deletion and reaction change: a consumer keeps the highest "
        "version it has seen of a message and drops an older snapshot that arrives late",
    )


class RoomEvent(DomainEvent):
    """Something that happened in a room; keyed by the room, so a room's events keep their order."""

    topic = CHAT_EVENTS

    room_id: int

    @property
    def key(self) -> int:
        return self.room_id


class RoomCreated(RoomEvent):
    """A room exists with these members."""

    type: str
    name: str | None = None
    member_ids: list[int]
    created_by: int
    at: datetime


class MemberJoined(RoomEvent):
    """``user_id`` joined the room (invited by ``by_user_id``)."""

    user_id: int
    by_user_id: int
    member_ids: list[int]
    at: datetime
    after_seq: int | None = Field(
        default=None,
        description="The room's last seq when the member joined: messages above it are theirs, the ones up to "
        "it predate them (none in events of a producer that does not record it)",
    )


class MemberLeft(RoomEvent):
    """``user_id`` left the room, or was removed from it by ``removed_by``."""

    user_id: int
    member_ids: list[int]
    removed_by: int | None = None
    at: datetime
    after_seq: int | None = Field(
        default=None,
        description="The room's last seq when the member left: messages up to it were sent while they were a "
        "member, the ones above it are not theirs (none in events of a producer that does not record it)",
    )


class RoomRole(StrEnum):
    """A member's role in a group room; direct rooms have none."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class RoomUpdated(RoomEvent):
    """The group room's name changed (by ``by_user_id``)."""

    name: str | None
    by_user_id: int
    at: datetime


class MemberRoleChanged(RoomEvent):
    """``user_id``'s role in the room is now ``role`` (changed by ``by_user_id``; ownership handed over or
    passed on when the owner left also reads as two of these)."""

    user_id: int
    role: RoomRole
    by_user_id: int
    at: datetime


class NotifyLevel(StrEnum):
    """Which messages of a room may notify a member who is not looking."""

    ALL = "all"
    MENTIONS = "mentions"
    NONE = "none"


class RoomSettingsChanged(RoomEvent):
    """``user_id``'s own settings for the room: push and e-mail follow them, the stream never does."""

    user_id: int
    muted_until: datetime | None
    notify: NotifyLevel
    at: datetime


class MessagesRead(RoomEvent):
    """``user_id``'s read position in the room moved forward to ``last_read_seq``."""

    user_id: int
    last_read_seq: int
    at: datetime


class MessageEvent(RoomEvent):
    """Carries the whole public message, so a consumer (the fan-out) never reads the message store."""

    topic = MESSAGE_EVENTS

    seq: int
    message: MessageSnapshot

    @classmethod
    def of(cls, message: MessageSnapshot) -> Self:
        """The event about ``message``, in its room at its seq."""
        return cls(room_id=message.room_id, seq=message.seq, message=message)


class MessageSent(MessageEvent):
    """A message was stored with ``seq``; ``message`` is the public message object."""


class MessageEdited(MessageEvent):
    """The message's content changed, or its attachment's thumbnail appeared."""


class MessageDeleted(MessageEvent):
    """The message was soft-deleted."""


class ReactionsChanged(MessageEvent):
    """The message's reactions changed."""
