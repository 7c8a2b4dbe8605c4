"""friend-service's internal answer on relationships (``GET /internal/relationships``), read by chat-service.

Services keep replicas of each other's data from events and ask over REST only as a fallback (CONTRACT §1):
chat-service asks here to confirm a refusal its permission replica would give (see docs/architecture.md).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

#: The path on friend-service; under ``/internal``, which the gateway never routes.
RELATIONSHIPS_PATH = "/internal/relationships"
#: Most users one call may ask about (a group's invitees).
MAX_ASKED = 100


class Relationship(BaseModel):
    """What the caller and ``user_id`` are to each other, as friend-service has it committed."""

    user_id: int
    friends: bool
    #: When the friendship began, to the microsecond: the ``at`` of its ``FriendRequestAccepted``, so a
    #: replica may store it as the row's version and every later event about the pair still applies.
    friends_since: datetime | None
    #: Either of the two blocks the other.
    blocked: bool


class RelationshipList(BaseModel):
    """The caller's relationship with each user asked about, in the order asked."""

    items: list[Relationship]
