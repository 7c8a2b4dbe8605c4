"""The replica of users: reads and the newer-wins upsert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.friend import ReplicaUser
from chat_shared.dialect import upsert


class UserReplica:
    """Reads and writes of the ``users`` replica table."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: int) -> ReplicaUser | None:
        """A replicated user by id."""
        return await self.session.get(ReplicaUser, user_id)

    async def many(self, ids: Sequence[int]) -> dict[int, ReplicaUser]:
        """Replicated users by id (unknown ids are absent)."""
        if not ids:
            return {}
        rows = await self.session.scalars(select(ReplicaUser).where(ReplicaUser.id.in_(list(ids))))
        return {u.id: u for u in rows}

    async def upsert_if_newer(
        self, user_id: int, username: str, display_name: str, updated_at: datetime, avatar_url: str | None = None
    ) -> None:
        """Insert the user, or overwrite the row only if ``updated_at`` is newer than what it holds.

        One atomic statement, so a redelivered, duplicated or out-of-order event never rolls a
        profile back, and concurrent writers (consumer and fallback lookup) cannot interleave.
        """
        values = {
            "id": user_id,
            "username": username,
            "display_name": display_name,
            "avatar_url": avatar_url,
            "updated_at": updated_at,
        }
        stmt = upsert(
            self.session,
            ReplicaUser,
            values,
            key=[ReplicaUser.id],
            # MySQL assigns left to right: updated_at, which the condition reads, comes last
            update=lambda new: {
                "username": new.username,
                "display_name": new.display_name,
                "avatar_url": new.avatar_url,
                "updated_at": new.updated_at,
            },
            when=lambda new: new.updated_at > ReplicaUser.updated_at,
        )
        await self.session.execute(stmt)
