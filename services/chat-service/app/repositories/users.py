"""Reads of the user-name replica (``users``, fed by user.events)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.replica import UserReplica
from app.models.room import RoomMember


class UserRepository:
    """Reads of the user-name replica."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def members_named(self, room_id: int, names: list[str]) -> dict[str, int]:
        """The members of a room whose username is one of ``names`` (lower-case; usernames are unique
        whatever their case), by lower-cased name."""
        if not names:
            return {}
        lowered = func.lower(UserReplica.username)
        stmt = (
            select(lowered, UserReplica.id)
            .join(RoomMember, RoomMember.user_id == UserReplica.id)
            .where(RoomMember.room_id == room_id, lowered.in_(names))
        )
        return {str(name): int(user_id) for name, user_id in (await self.session.execute(stmt)).all()}
