"""ORM models of friend-service; importing this registers every table of ``friend_db`` on the metadata."""

from app.models.friend import Block, FriendPair, FriendRequest, Friendship, ReplicaUser, RequestStatus
from chat_shared.consumer import ProcessedEvent
from chat_shared.outbox import OutboxRecord

__all__ = [
    "Block",
    "FriendPair",
    "FriendRequest",
    "Friendship",
    "OutboxRecord",
    "ProcessedEvent",
    "ReplicaUser",
    "RequestStatus",
]
