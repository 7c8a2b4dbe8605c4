"""Which payload schema and topic belong to each event type: the one map producers and consumers share."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from chat_shared.events import chat, friend, user
from chat_shared.events.topics import (
    CHAT_EVENTS,
    FRIEND_EVENTS,
    MESSAGE_EVENTS,
    USER_EVENTS,
    USER_ONLINE_STATUS,
)

_BY_TOPIC: dict[str, tuple[type[BaseModel], ...]] = {
    USER_EVENTS: (user.UserRegistered, user.UserProfileUpdated),
    USER_ONLINE_STATUS: (user.UserOnline, user.UserOffline),
    FRIEND_EVENTS: (
        friend.FriendRequestSent,
        friend.FriendRequestAccepted,
        friend.FriendRequestRejected,
        friend.FriendRequestCancelled,
        friend.FriendRemoved,
        friend.UserBlocked,
        friend.UserUnblocked,
    ),
    CHAT_EVENTS: (chat.RoomCreated, chat.MemberJoined, chat.MemberLeft, chat.MessagesRead),
    MESSAGE_EVENTS: (chat.MessageSent, chat.MessageEdited, chat.MessageDeleted, chat.ReactionsChanged),
}

#: event type name → payload model
PAYLOADS: dict[str, type[BaseModel]] = {m.__name__: m for models in _BY_TOPIC.values() for m in models}
#: event type name → topic it is published on
EVENT_TOPICS: dict[str, str] = {m.__name__: topic for topic, models in _BY_TOPIC.items() for m in models}


def parse_payload(event_type: str, payload: dict[str, Any]) -> BaseModel:
    """Validate a payload against its schema; raises ``KeyError`` for an unknown type."""
    return PAYLOADS[event_type].model_validate(payload)
