"""The permission replica (friendships, blocks) and the user-name replica, built from events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.replica import Block, Friendship, UserReplica
from chat_shared.dialect import upsert


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


class PermissionRepository:
    """Who may talk to whom, as friend-service last told us."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def are_friends(self, a: int, b: int) -> bool:
        """Whether ``a`` and ``b`` are friends."""
        low, high = _pair(a, b)
        row = await self.session.get(Friendship, (low, high))
        return bool(row and row.active)

    async def friends_among(self, user_id: int, others: list[int]) -> set[int]:
        """Which of ``others`` are friends of ``user_id``."""
        if not others:
            return set()
        rows = await self.session.scalars(
            select(Friendship).where(
                Friendship.active.is_(True),
                or_(
                    (Friendship.user_low == user_id) & Friendship.user_high.in_(others),
                    (Friendship.user_high == user_id) & Friendship.user_low.in_(others),
                ),
            )
        )
        return {r.user_high if r.user_low == user_id else r.user_low for r in rows.all()}

    async def friends_of(self, user_id: int) -> list[int]:
        """The user's friends, leaving out anyone a block stands between (either way)."""
        rows = await self.session.execute(
            select(Friendship.user_low, Friendship.user_high).where(
                Friendship.active.is_(True), or_(Friendship.user_low == user_id, Friendship.user_high == user_id)
            )
        )
        friends = {high if low == user_id else low for low, high in rows.all()}
        if not friends:
            return []
        blocks = await self.session.execute(
            select(Block.blocker_id, Block.blocked_id).where(
                Block.active.is_(True),
                or_(
                    (Block.blocker_id == user_id) & Block.blocked_id.in_(friends),
                    (Block.blocked_id == user_id) & Block.blocker_id.in_(friends),
                ),
            )
        )
        blocked = {b if a == user_id else a for a, b in blocks.all()}
        return sorted(friends - blocked)

    async def blocked_between(self, a: int, b: int) -> bool:
        """Whether either user blocks the other."""
        row = (
            await self.session.scalars(
                select(Block.blocker_id)
                .where(
                    Block.active.is_(True),
                    or_(
                        (Block.blocker_id == a) & (Block.blocked_id == b),
                        (Block.blocker_id == b) & (Block.blocked_id == a),
                    ),
                )
                .limit(1)
            )
        ).first()
        return row is not None

    async def set_friendship(self, a: int, b: int, active: bool, at: datetime) -> None:
        """Record the pair's state unless a newer event already did."""
        low, high = _pair(a, b)
        row = await self.session.get(Friendship, (low, high), with_for_update=True)
        if row is None:
            self.session.add(Friendship(user_low=low, user_high=high, active=active, updated_at=at))
        elif row.updated_at <= at:
            row.active, row.updated_at = active, at

    async def confirm_friendship(self, a: int, b: int, since: datetime) -> None:
        """Record a friendship friend-service confirmed, versioned by its start: unless an event at or after
        ``since`` (the friendship's own ``FriendRequestAccepted`` or a later end of it) already did.

        One statement with the version check inside, so an event applied concurrently cannot be undone by
        a decision made on a row read before it.
        """
        low, high = _pair(a, b)
        stmt = upsert(
            self.session,
            Friendship,
            {"user_low": low, "user_high": high, "active": True, "updated_at": since},
            key=[Friendship.user_low, Friendship.user_high],
            update=lambda new: {"active": new.active, "updated_at": new.updated_at},
            when=lambda new: Friendship.updated_at < new.updated_at,
        )
        await self.session.execute(stmt)

    async def set_block(self, blocker: int, blocked: int, active: bool, at: datetime) -> None:
        """Record a block (or its lifting) unless a newer event already did."""
        row = await self.session.get(Block, (blocker, blocked), with_for_update=True)
        if row is None:
            self.session.add(Block(blocker_id=blocker, blocked_id=blocked, active=active, updated_at=at))
        elif row.updated_at <= at:
            row.active, row.updated_at = active, at

    async def upsert_user(self, user_id: int, username: str, display_name: str, at: datetime) -> None:
        """Keep the newest name of a user."""
        row = await self.session.get(UserReplica, user_id, with_for_update=True)
        if row is None:
            self.session.add(UserReplica(id=user_id, username=username, display_name=display_name, updated_at=at))
        elif row.updated_at <= at:
            row.username, row.display_name, row.updated_at = username, display_name, at
