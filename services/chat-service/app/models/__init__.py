"""ORM models of chat-service; importing this registers every table of ``chat_db`` on the metadata."""

from app.models.attachment import Attachment
from app.models.replica import Block, Friendship, UserReplica
from app.models.room import Room, RoomMember
from chat_shared.consumer import ProcessedEvent
from chat_shared.outbox import OutboxRecord

__all__ = ["Attachment", "Block", "Friendship", "OutboxRecord", "ProcessedEvent", "Room", "RoomMember", "UserReplica"]
