"""Queries on users."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.user import User


def like_prefix(value: str) -> str:
    """A LIKE pattern matching values that start with ``value`` literally."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class UserRepository:
    """Reads and writes of the ``users`` table."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: int, *, for_update: bool = False) -> User | None:
        """A user by id."""
        stmt = select(User).where(User.id == user_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def by_login(self, identifier: str) -> User | None:
        """A user by email or username (case-insensitive)."""
        key = identifier.strip().lower()
        return (
            await self.session.scalars(
                select(User).where(or_(User.email_key == key, User.username_key == key)).limit(1)
            )
        ).first()

    async def taken(self, email_key: str, username_key: str) -> tuple[bool, bool]:
        """Whether the email and the username are already used."""
        rows = (
            await self.session.execute(
                select(User.email_key, User.username_key).where(
                    or_(User.email_key == email_key, User.username_key == username_key)
                )
            )
        ).all()
        return any(r.email_key == email_key for r in rows), any(r.username_key == username_key for r in rows)

    async def many(self, ids: Sequence[int]) -> list[User]:
        """Users with these ids, in id order (unknown ids are skipped)."""
        if not ids:
            return []
        return list((await self.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id))).all())

    async def search(self, query: str, after_id: int, limit: int) -> list[User]:
        """Users whose username or display name starts with ``query``, by id, after a cursor."""
        pattern = like_prefix(query.lower())
        stmt = (
            select(User)
            .where(
                or_(
                    User.username_key.like(pattern, escape="\\"),
                    User.display_name.like(like_prefix(query), escape="\\"),
                )
            )
            .where(User.id > after_id)
            .order_by(User.id)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())
