"""Events of the friend context (``friend.events``), keyed by the lower user id of the pair.

Each carries both user ids so a consumer (chat-service's permission replica) can apply it alone, and the
pair's events share a partition so they are applied in the order they happened.
"""

from __future__ import annotations

from datetime import datetime

from chat_shared.events.base import DomainEvent
from chat_shared.events.topics import FRIEND_EVENTS


class _PairEvent(DomainEvent):
    topic = FRIEND_EVENTS

    at: datetime


class FriendRequestEvent(_PairEvent):
    """What happened to a friend request."""

    request_id: int
    requester_id: int
    addressee_id: int

    @property
    def key(self) -> int:
        return min(self.requester_id, self.addressee_id)


class FriendRequestSent(FriendRequestEvent):
    """A pending request from ``requester_id`` to ``addressee_id``."""


class FriendRequestAccepted(FriendRequestEvent):
    """The two users are now friends."""


class FriendRequestRejected(FriendRequestEvent):
    """The addressee turned the request down."""


class FriendRequestCancelled(FriendRequestEvent):
    """The requester withdrew the request (or a block cancelled it)."""


class FriendRemoved(_PairEvent):
    """The friendship between ``user_id`` and ``friend_id`` ended (by unfriend or block)."""

    user_id: int
    friend_id: int

    @property
    def key(self) -> int:
        return min(self.user_id, self.friend_id)


class _BlockEvent(_PairEvent):
    blocker_id: int
    blocked_id: int

    @property
    def key(self) -> int:
        return min(self.blocker_id, self.blocked_id)


class UserBlocked(_BlockEvent):
    """``blocker_id`` blocked ``blocked_id``: no friendship, request or direct message between them."""


class UserUnblocked(_BlockEvent):
    """The block was lifted (friendship is not restored)."""
