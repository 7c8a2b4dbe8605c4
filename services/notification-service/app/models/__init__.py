"""Tables of ``notification_db`` (imported so alembic and the tests see every table)."""

from app.models.delivery import Mail, Push
from app.models.replica import Block, Member, ReplicaUser
from app.models.subscription import Preference, Subscription
from chat_shared.consumer import ProcessedEvent
from chat_shared.outbox import OutboxRecord

__all__ = [
    "Block",
    "Mail",
    "Member",
    "OutboxRecord",
    "Preference",
    "ProcessedEvent",
    "Push",
    "ReplicaUser",
    "Subscription",
]
