"""Queries on refresh tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.user import RefreshToken


class RefreshTokenRepository:
    """Reads and writes of the ``refresh_tokens`` table."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_hash(self, token_hash: str, *, for_update: bool = False) -> RefreshToken | None:
        """The token with this hash, locked when asked (two refreshes of one token serialise)."""
        stmt = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    def add(self, token: RefreshToken) -> None:
        """Stage a new token."""
        self.session.add(token)

    async def revoke_family(self, family_id: str, now: datetime) -> None:
        """Revoke every live token of a rotation family."""
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def family_is_live(self, family_id: str, now: datetime) -> bool:
        """Whether the rotation family still has a usable token (its session has not ended)."""
        live = exists().where(
            RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > now
        )
        return bool(await self.session.scalar(select(live)))

    async def live_families(self, user_id: int, now: datetime) -> list[str]:
        """The user's sessions that have not ended: families with a usable token. (A family whose last token
        expired has had no live access token for weeks.)"""
        stmt = (
            select(RefreshToken.family_id)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > now)
            .distinct()
            .order_by(RefreshToken.family_id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def revoke_user(self, user_id: int, now: datetime) -> None:
        """Revoke every live token of a user."""
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
