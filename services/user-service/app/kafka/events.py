"""The events user-service writes to its outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.models.user import User
from chat_shared.events import new_event
from chat_shared.events.user import UserOffline, UserOnline, UserProfileUpdated, UserRegistered
from chat_shared.outbox import Outbox

PRODUCER = "user-service"


def user_registered(outbox: Outbox, session: AsyncSession, user: User) -> None:
    """``UserRegistered`` on ``user.events``."""
    payload = UserRegistered(
        user_id=user.id, username=user.username, display_name=user.display_name, created_at=user.created_at
    )
    outbox.add(session, new_event("UserRegistered", payload, PRODUCER), key=user.id)


def user_profile_updated(outbox: Outbox, session: AsyncSession, user: User) -> None:
    """``UserProfileUpdated`` on ``user.events``."""
    payload = UserProfileUpdated(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        status_message=user.status_message,
        avatar_url=user.avatar_url,
        updated_at=user.updated_at,
    )
    outbox.add(session, new_event("UserProfileUpdated", payload, PRODUCER), key=user.id)


def user_presence(outbox: Outbox, session: AsyncSession, user_id: int, online: bool, at: datetime) -> None:
    """``UserOnline`` / ``UserOffline`` on ``user.online_status``."""
    if online:
        outbox.add(session, new_event("UserOnline", UserOnline(user_id=user_id, at=at), PRODUCER), key=user_id)
    else:
        outbox.add(session, new_event("UserOffline", UserOffline(user_id=user_id, at=at), PRODUCER), key=user_id)
