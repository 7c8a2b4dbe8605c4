"""The replica of users: reads and the newer-wins upsert (MySQL/MariaDB and SQLite)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.friend import ReplicaUser


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

    async def upsert_if_newer(self, user_id: int, username: str, display_name: str, updated_at: datetime) -> None:
        """Insert the user, or overwrite the row only if ``updated_at`` is newer than what it holds.

        One atomic statement, so a redelivered, duplicated or out-of-order event never rolls a
        profile back, and concurrent writers (consumer and fallback lookup) cannot interleave.
        """
        values = {"id": user_id, "username": username, "display_name": display_name, "updated_at": updated_at}
        dialect = self.session.get_bind().dialect.name
        if dialect == "mysql":
            ins = mysql.insert(ReplicaUser).values(**values)
            newer = ins.inserted.updated_at > ReplicaUser.updated_at
            # MySQL applies the assignments left to right: updated_at must come last.
            stmt = ins.on_duplicate_key_update(
                {
                    "username": func.if_(newer, ins.inserted.username, ReplicaUser.username),
                    "display_name": func.if_(newer, ins.inserted.display_name, ReplicaUser.display_name),
                    "updated_at": func.if_(newer, ins.inserted.updated_at, ReplicaUser.updated_at),
                }
            )
            await self.session.execute(stmt)
            return
        lite = sqlite.insert(ReplicaUser).values(**values)
        await self.session.execute(
            lite.on_conflict_do_update(
                index_elements=[ReplicaUser.id],
                set_={
                    "username": lite.excluded.username,
                    "display_name": lite.excluded.display_name,
                    "updated_at": lite.excluded.updated_at,
                },
                where=lite.excluded.updated_at > ReplicaUser.updated_at,
            )
        )
