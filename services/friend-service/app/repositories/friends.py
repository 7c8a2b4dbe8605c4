"""Queries on pairs, requests, friendships and blocks."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.friend import Block, FriendPair, FriendRequest, Friendship, ReplicaUser, RequestStatus, pair_key
from chat_shared.dialect import upsert


class FriendRow(NamedTuple):
    """One line of a friends list."""

    friend_id: int
    since: datetime
    username: str | None
    display_name: str | None
    avatar_url: str | None


class FriendRepository:
    """Reads and writes of friend_db's relationship tables."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_pair(self, a: int, b: int) -> None:
        """Take the exclusive row lock of the pair (creating its row on first use) until the transaction ends.

        ``INSERT … ON DUPLICATE KEY UPDATE`` takes an exclusive lock whether the row is new or not, so
        two transactions on the same pair queue up instead of deadlocking on a shared→exclusive
        upgrade (as ``INSERT IGNORE`` followed by ``SELECT … FOR UPDATE`` would).
        """
        low, high = sorted((a, b))
        stmt = upsert(
            self.session,
            FriendPair,
            {"user_low": low, "user_high": high, "version": 0},
            key=[FriendPair.user_low, FriendPair.user_high],
            update=lambda _: {"version": FriendPair.version + 1},
        )
        await self.session.execute(stmt)

    # --- requests ---------------------------------------------------------------------------------

    async def request(self, request_id: int, *, for_update: bool = False) -> FriendRequest | None:
        """A request by id (re-read from the database when locking)."""
        stmt = select(FriendRequest).where(FriendRequest.id == request_id)
        if for_update:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return (await self.session.scalars(stmt)).first()

    async def pending_between(self, a: int, b: int) -> FriendRequest | None:
        """The pending request of the pair, in either direction."""
        stmt = select(FriendRequest).where(FriendRequest.pending_pair == pair_key(a, b)).with_for_update()
        return (await self.session.scalars(stmt.execution_options(populate_existing=True))).first()

    async def pending_page(
        self, user_id: int, incoming: bool, before_id: int | None, limit: int
    ) -> list[FriendRequest]:
        """Pending requests to (incoming) or from the user, newest first, before a cursor."""
        column = FriendRequest.addressee_id if incoming else FriendRequest.requester_id
        stmt = select(FriendRequest).where(column == user_id, FriendRequest.status == RequestStatus.PENDING.value)
        if before_id is not None:
            stmt = stmt.where(FriendRequest.id < before_id)
        return list((await self.session.scalars(stmt.order_by(FriendRequest.id.desc()).limit(limit))).all())

    # --- friendships ------------------------------------------------------------------------------

    async def are_friends(self, a: int, b: int) -> bool:
        """Whether the friendship exists."""
        return await self.session.get(Friendship, (a, b)) is not None

    def add_friendship(self, a: int, b: int, since: datetime) -> None:
        """Stage both rows of a friendship (the primary key refuses a second one)."""
        self.session.add_all(
            [Friendship(user_id=a, friend_id=b, since=since), Friendship(user_id=b, friend_id=a, since=since)]
        )

    async def friends_since(self, user_id: int, others: list[int]) -> dict[int, datetime]:
        """Which of ``others`` are friends of ``user_id``, and since when."""
        rows = await self.session.execute(
            select(Friendship.friend_id, Friendship.since).where(
                Friendship.user_id == user_id, Friendship.friend_id.in_(others)
            )
        )
        return dict(rows.all())

    async def remove_friendship(self, a: int, b: int) -> bool:
        """Delete both rows; True if the friendship existed."""
        result = await self.session.execute(
            delete(Friendship).where(
                or_(
                    and_(Friendship.user_id == a, Friendship.friend_id == b),
                    and_(Friendship.user_id == b, Friendship.friend_id == a),
                )
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def friends_page(self, user_id: int, after_id: int | None, limit: int) -> list[FriendRow]:
        """The user's friends by friend id after a cursor, each with its replicated names.

        Plain column rows, not ORM entities: this is the hot read, and building identity-mapped
        objects for a page of 100 costs more than the query itself.
        """
        stmt = (
            select(
                Friendship.friend_id,
                Friendship.since,
                ReplicaUser.username,
                ReplicaUser.display_name,
                ReplicaUser.avatar_url,
            )
            .outerjoin(ReplicaUser, ReplicaUser.id == Friendship.friend_id)
            .where(Friendship.user_id == user_id)
        )
        if after_id is not None:
            stmt = stmt.where(Friendship.friend_id > after_id)
        rows = await self.session.execute(stmt.order_by(Friendship.friend_id).limit(limit))
        return [FriendRow(*row) for row in rows.all()]

    # --- blocks -----------------------------------------------------------------------------------

    async def block(self, blocker_id: int, blocked_id: int) -> Block | None:
        """The block placed by ``blocker_id`` on ``blocked_id``."""
        return await self.session.get(Block, (blocker_id, blocked_id))

    async def blocked_either_way(self, a: int, b: int) -> bool:
        """Whether either user blocked the other."""
        found = await self.session.scalar(
            select(Block.blocker_id)
            .where(
                or_(
                    and_(Block.blocker_id == a, Block.blocked_id == b),
                    and_(Block.blocker_id == b, Block.blocked_id == a),
                )
            )
            .limit(1)
        )
        return found is not None

    async def blocked_among(self, user_id: int, others: list[int]) -> set[int]:
        """Which of ``others`` block ``user_id`` or are blocked by them."""
        rows = await self.session.execute(
            select(Block.blocker_id, Block.blocked_id).where(
                or_(
                    and_(Block.blocker_id == user_id, Block.blocked_id.in_(others)),
                    and_(Block.blocked_id == user_id, Block.blocker_id.in_(others)),
                )
            )
        )
        return {blocked if blocker == user_id else blocker for blocker, blocked in rows.all()}

    async def blocks_page(
        self, blocker_id: int, after_id: int | None, limit: int
    ) -> list[tuple[Block, ReplicaUser | None]]:
        """Users blocked by ``blocker_id``, by id after a cursor."""
        stmt = (
            select(Block, ReplicaUser)
            .outerjoin(ReplicaUser, ReplicaUser.id == Block.blocked_id)
            .where(Block.blocker_id == blocker_id)
        )
        if after_id is not None:
            stmt = stmt.where(Block.blocked_id > after_id)
        rows = await self.session.execute(stmt.order_by(Block.blocked_id).limit(limit))
        return [(row[0], row[1]) for row in rows.all()]
