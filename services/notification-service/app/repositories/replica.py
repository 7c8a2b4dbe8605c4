"""Reads and writes of the replicas: users, room members with their settings, blocks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.replica import Block, Member, ReplicaUser
from chat_shared.dialect import upsert


class UserReplica:
    """The ``users`` replica."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_if_newer(
        self,
        user_id: int,
        username: str,
        display_name: str,
        updated_at: datetime,
        email: str | None = None,
        locale: str | None = None,
    ) -> None:
        """Insert the user, or overwrite names only if ``updated_at`` is newer; e-mail and locale (known from
        registration only) are kept when the update does not carry them."""
        values = {
            "id": user_id,
            "username": username,
            "display_name": display_name,
            "email": email,
            "locale": locale,
            "updated_at": updated_at,
        }
        stmt = upsert(
            self.session,
            ReplicaUser,
            values,
            key=[ReplicaUser.id],
            update=lambda new: {
                "username": new.username,
                "display_name": new.display_name,
                "updated_at": new.updated_at,
            },
            when=lambda new: new.updated_at > ReplicaUser.updated_at,
        )
        await self.session.execute(stmt)
        if email is not None:
            await self.session.execute(
                update(ReplicaUser).where(ReplicaUser.id == user_id).values(email=email, locale=locale)
            )

    async def names(self, ids: Sequence[int]) -> dict[int, str]:
        """Display names by user id (unknown ids are absent)."""
        if not ids:
            return {}
        rows = await self.session.execute(
            select(ReplicaUser.id, ReplicaUser.display_name).where(ReplicaUser.id.in_(list(ids)))
        )
        return {int(row[0]): str(row[1]) for row in rows}

    async def delete(self, user_id: int) -> None:
        """Forget a deleted user."""
        await self.session.execute(delete(ReplicaUser).where(ReplicaUser.id == user_id))


class MemberReplica:
    """Room members and their own settings for the room."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def set_members(self, room_id: int, member_ids: Sequence[int]) -> None:
        """Make the room's members exactly ``member_ids`` (events carry the whole list); the settings of those
        who stay are kept."""
        ids = sorted(set(member_ids))
        stale = delete(Member).where(Member.room_id == room_id)
        if ids:
            stale = stale.where(Member.user_id.not_in(ids))
        await self.session.execute(stale)
        for user_id in ids:
            await self.session.execute(
                upsert(
                    self.session,
                    Member,
                    {"room_id": room_id, "user_id": user_id, "notify": "all"},
                    key=[Member.room_id, Member.user_id],
                    update=lambda new: {"room_id": new.room_id},
                )
            )

    async def set_settings(self, room_id: int, user_id: int, muted_until: datetime | None, notify: str) -> None:
        """A member's own settings for the room."""
        await self.session.execute(
            upsert(
                self.session,
                Member,
                {"room_id": room_id, "user_id": user_id, "muted_until": muted_until, "notify": notify},
                key=[Member.room_id, Member.user_id],
                update=lambda new: {"muted_until": new.muted_until, "notify": new.notify},
            )
        )

    async def of_room(self, room_id: int) -> list[Member]:
        """The room's members with their settings."""
        return list(await self.session.scalars(select(Member).where(Member.room_id == room_id)))

    async def delete_user(self, user_id: int) -> None:
        """Forget a deleted user's memberships."""
        await self.session.execute(delete(Member).where(Member.user_id == user_id))


class BlockReplica:
    """Who blocked whom."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, blocker_id: int, blocked_id: int) -> None:
        await self.session.execute(
            upsert(
                self.session,
                Block,
                {"blocker_id": blocker_id, "blocked_id": blocked_id},
                key=[Block.blocker_id, Block.blocked_id],
                update=lambda new: {"blocker_id": new.blocker_id},
            )
        )

    async def remove(self, blocker_id: int, blocked_id: int) -> None:
        await self.session.execute(delete(Block).where(Block.blocker_id == blocker_id, Block.blocked_id == blocked_id))

    async def blockers_of(self, user_id: int, among: Sequence[int]) -> set[int]:
        """Those of ``among`` who blocked ``user_id``."""
        if not among:
            return set()
        rows = await self.session.scalars(
            select(Block.blocker_id).where(Block.blocked_id == user_id, Block.blocker_id.in_(list(among)))
        )
        return set(rows)

    async def delete_user(self, user_id: int) -> None:
        """Forget a deleted user's blocks, both ways."""
        await self.session.execute(delete(Block).where(or_(Block.blocker_id == user_id, Block.blocked_id == user_id)))
