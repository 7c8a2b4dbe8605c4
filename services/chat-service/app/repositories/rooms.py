"""Queries on rooms and members."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.models.room import ADMIN, MEMBER, NOTIFY_ALL, OWNER, Room, RoomMember


class RoomRepository:
    """Reads and writes of ``rooms`` and ``room_members``."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, room_id: int) -> Room | None:
        """A room by id."""
        return await self.session.get(Room, room_id)

    async def by_pair(self, key: str) -> Room | None:
        """The direct room of a pair."""
        return (await self.session.scalars(select(Room).where(Room.pair_key == key))).first()

    async def lock(self, room_id: int) -> None:
        """Take the room's row lock until the commit (what a send's seq increment also holds)."""
        await self.session.execute(select(Room.id).where(Room.id == room_id).with_for_update())

    async def member(self, room_id: int, user_id: int) -> RoomMember | None:
        """One membership row."""
        return await self.session.get(RoomMember, (room_id, user_id))

    async def role_of(self, room_id: int, user_id: int) -> str | None:
        """The member's role as committed now (None: not a member), whatever this session loaded before."""
        return await self.session.scalar(
            select(RoomMember.role).where(RoomMember.room_id == room_id, RoomMember.user_id == user_id)
        )

    async def member_ids(self, room_id: int) -> list[int]:
        """Members of a room, by id."""
        rows = await self.session.scalars(
            select(RoomMember.user_id).where(RoomMember.room_id == room_id).order_by(RoomMember.user_id)
        )
        return list(rows.all())

    async def members_of(self, room_ids: list[int]) -> dict[int, list[int]]:
        """Members of several rooms at once."""
        result: dict[int, list[int]] = {r: [] for r in room_ids}
        if room_ids:
            rows = await self.session.execute(
                select(RoomMember.room_id, RoomMember.user_id)
                .where(RoomMember.room_id.in_(room_ids))
                .order_by(RoomMember.room_id, RoomMember.user_id)
            )
            for room_id, user_id in rows.all():
                result[room_id].append(user_id)
        return result

    async def memberships_of(self, room_ids: list[int]) -> dict[int, list[RoomMember]]:
        """The membership rows (role, joined_at) of several rooms at once, each room's by user id."""
        result: dict[int, list[RoomMember]] = {r: [] for r in room_ids}
        if room_ids:
            rows = await self.session.scalars(
                select(RoomMember)
                .where(RoomMember.room_id.in_(room_ids))
                .order_by(RoomMember.room_id, RoomMember.user_id)
            )
            for member in rows.all():
                result[member.room_id].append(member)
        return result

    async def members_for_update(self, room_id: int) -> dict[int, RoomMember]:
        """The room's membership rows as committed now, locked until the commit (after :meth:`lock`, so a
        moderation decision is made on the state no concurrent one can change)."""
        rows = await self.session.scalars(
            select(RoomMember)
            .where(RoomMember.room_id == room_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return {m.user_id: m for m in rows.all()}

    @staticmethod
    def heir(members: list[RoomMember]) -> RoomMember | None:
        """Who owns the room when its owner leaves: the longest-standing admin, else the longest-standing member."""
        rank = {ADMIN: 0, MEMBER: 1}
        candidates = [m for m in members if m.role in rank]
        return min(candidates, key=lambda m: (rank[m.role], m.joined_at, m.user_id), default=None)

    async def count_members(self, room_id: int) -> int:
        """How many members a room has."""
        return int(
            await self.session.scalar(select(func.count()).select_from(RoomMember).where(RoomMember.room_id == room_id))
            or 0
        )

    def add_members(self, room_id: int, user_ids: list[int], now: datetime, owner: int | None = None) -> None:
        """Stage membership rows; ``owner`` (a group's creator) gets the owner role, the others are members."""
        for user_id in user_ids:
            role = OWNER if user_id == owner else MEMBER
            self.session.add(
                RoomMember(
                    room_id=room_id, user_id=user_id, last_read_seq=0, joined_at=now, role=role, notify=NOTIFY_ALL
                )
            )

    async def remove_member(self, room_id: int, user_id: int) -> bool:
        """Delete a membership; False if there was none."""
        result = await self.session.execute(
            delete(RoomMember).where(RoomMember.room_id == room_id, RoomMember.user_id == user_id)
        )
        return bool(getattr(result, "rowcount", 0))

    async def allocate_seq(self, room: Room, now: datetime) -> int:
        """Take the next ``seq`` of the room: an atomic increment whose row lock lasts until the commit.

        Concurrent senders of one room queue on the row lock, senders of other rooms never wait. The loaded
        ``room`` is brought up to date as already-written values, so the flush sends no second UPDATE.
        """
        await self.session.execute(
            update(Room)
            .where(Room.id == room.id)
            .values(last_seq=Room.last_seq + 1, last_activity_at=now)
            .execution_options(synchronize_session=False)
        )
        seq = int(await self.session.scalar(select(Room.last_seq).where(Room.id == room.id)) or 0)
        set_committed_value(room, "last_seq", seq)
        set_committed_value(room, "last_activity_at", now)
        return seq

    async def advance_read(self, room_id: int, user_id: int, seq: int) -> bool:
        """Move the read position forward to ``seq``; never backwards. True if it moved."""
        result = await self.session.execute(
            update(RoomMember)
            .where(RoomMember.room_id == room_id, RoomMember.user_id == user_id, RoomMember.last_read_seq < seq)
            .values(last_read_seq=seq)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def rooms_of(
        self, user_id: int, cursor: tuple[datetime, int] | None, limit: int
    ) -> list[tuple[Room, RoomMember]]:
        """The user's rooms with their membership, most recent activity first (keyset cursor)."""
        stmt = (
            select(Room, RoomMember)
            .join(RoomMember, RoomMember.room_id == Room.id)
            .where(RoomMember.user_id == user_id)
        )
        if cursor is not None:
            at, room_id = cursor
            stmt = stmt.where(or_(Room.last_activity_at < at, and_(Room.last_activity_at == at, Room.id < room_id)))
        stmt = stmt.order_by(Room.last_activity_at.desc(), Room.id.desc()).limit(limit)
        return [(room, member) for room, member in (await self.session.execute(stmt)).all()]
