"""Events of the friend context (``friend.events``), keyed by the lower user id of the pair.

Each carries both user ids so a consumer (chat-service's permission replica) can apply it alone.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class _PairEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    at: datetime


class FriendRequestSent(_PairEvent):
    """A pending request from ``requester_id`` to ``addressee_id``."""

    request_id: int
    requester_id: int
    addressee_id: int


class FriendRequestAccepted(_PairEvent):
    """The two users are now friends."""

    request_id: int
    requester_id: int
    addressee_id: int


class FriendRequestRejected(_PairEvent):
    """The addressee turned the request down."""

    request_id: int
    requester_id: int
    addressee_id: int


class FriendRequestCancelled(_PairEvent):
    """The requester withdrew the request (or a block cancelled it)."""

    request_id: int
    requester_id: int
    addressee_id: int


class FriendRemoved(_PairEvent):
    """The friendship between ``user_id`` and ``friend_id`` ended (by unfriend or block)."""

    user_id: int
    friend_id: int


class UserBlocked(_PairEvent):
    """``blocker_id`` blocked ``blocked_id``: no friendship, request or direct message between them."""

    blocker_id: int
    blocked_id: int


class UserUnblocked(_PairEvent):
    """The block was lifted (friendship is not restored)."""

    blocker_id: int
    blocked_id: int
