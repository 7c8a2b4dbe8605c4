"""The friend-request events friend-service writes to its outbox, built from the request row."""

from __future__ import annotations

from typing import TypeVar

from app.models.friend import FriendRequest
from chat_shared.events.friend import FriendRequestEvent

E = TypeVar("E", bound=FriendRequestEvent)


def request_event(event: type[E], request: FriendRequest) -> E:
    """``event`` about ``request``, at the time it was answered (or sent), carrying both user ids."""
    return event(
        at=request.responded_at or request.created_at,
        request_id=request.id,
        requester_id=request.requester_id,
        addressee_id=request.addressee_id,
    )
