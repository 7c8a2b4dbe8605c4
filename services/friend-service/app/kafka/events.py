"""The events friend-service writes to its outbox (``friend.events``, keyed by the lower user id)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.models.friend import FriendRequest
from chat_shared.db import utcnow
from chat_shared.events import new_event
from chat_shared.events.friend import (
    FriendRemoved,
    FriendRequestAccepted,
    FriendRequestCancelled,
    FriendRequestRejected,
    FriendRequestSent,
    UserBlocked,
    UserUnblocked,
)
from chat_shared.outbox import Outbox

PRODUCER = "friend-service"

_REQUEST_EVENTS = {
    "FriendRequestSent": FriendRequestSent,
    "FriendRequestAccepted": FriendRequestAccepted,
    "FriendRequestRejected": FriendRequestRejected,
    "FriendRequestCancelled": FriendRequestCancelled,
}


def request_event(outbox: Outbox, session: AsyncSession, event_type: str, request: FriendRequest) -> None:
    """One of the four request events, carrying both user ids."""
    payload = _REQUEST_EVENTS[event_type](
        at=request.responded_at or request.created_at,
        request_id=request.id,
        requester_id=request.requester_id,
        addressee_id=request.addressee_id,
    )
    outbox.add(session, new_event(event_type, payload, PRODUCER), key=min(request.requester_id, request.addressee_id))


def friend_removed(outbox: Outbox, session: AsyncSession, user_id: int, friend_id: int) -> None:
    """``FriendRemoved``: ``user_id`` ended the friendship (by unfriending or blocking)."""
    payload = FriendRemoved(at=utcnow(), user_id=user_id, friend_id=friend_id)
    outbox.add(session, new_event("FriendRemoved", payload, PRODUCER), key=min(user_id, friend_id))


def user_blocked(
    outbox: Outbox, session: AsyncSession, blocker_id: int, blocked_id: int, unblocked: bool = False
) -> None:
    """``UserBlocked`` or ``UserUnblocked``."""
    key = min(blocker_id, blocked_id)
    if unblocked:
        outbox.add(
            session,
            new_event(
                "UserUnblocked", UserUnblocked(at=utcnow(), blocker_id=blocker_id, blocked_id=blocked_id), PRODUCER
            ),
            key=key,
        )
    else:
        outbox.add(
            session,
            new_event("UserBlocked", UserBlocked(at=utcnow(), blocker_id=blocker_id, blocked_id=blocked_id), PRODUCER),
            key=key,
        )
