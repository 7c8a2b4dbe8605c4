"""ORM models of user-service; importing this registers every table of ``user_db`` on the metadata."""

from app.models.user import RefreshToken, User
from chat_shared.consumer import ProcessedEvent
from chat_shared.outbox import OutboxRecord

__all__ = ["OutboxRecord", "ProcessedEvent", "RefreshToken", "User"]
