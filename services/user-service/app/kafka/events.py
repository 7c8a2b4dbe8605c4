"""The events user-service writes to its outbox that are built from a user row."""

from __future__ import annotations

from app.models.user import User
from chat_shared.events.user import UserProfileUpdated, UserRegistered


def user_registered(user: User, locale: str | None = None) -> UserRegistered:
    """The account exists: its public fields, and the address and language of its welcome mail."""
    return UserRegistered(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        locale=locale,
        created_at=user.created_at,
    )


def profile_updated(user: User) -> UserProfileUpdated:
    """The user's public profile as it is now; ``updated_at`` is its version."""
    return UserProfileUpdated(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        status_message=user.status_message,
        avatar_url=user.avatar_url,
        updated_at=user.updated_at,
    )
