"""Rooms: create (one direct room per pair), list, read, invite, read positions (leaving and moderation:
:mod:`app.services.moderation`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import metrics
from app.models.room import ADMIN, DIRECT, GROUP, OWNER, Room, RoomMember, pair_key
from app.repositories.messages import MessageRepository
from app.repositories.rooms import RoomRepository
from app.schemas.room import ReadOut, RoomCreate, RoomOut, RoomPage
from app.services.member_views import members_out, settings_out
from app.services.permissions import Permissions
from app.services.views import message_out
from chat_shared import cursor as cursors
from chat_shared.db import utcnow
from chat_shared.errors import BadRequest, Conflict, Forbidden, NotFound
from chat_shared.events.chat import MemberJoined, MessagesRead, RoomCreated
from chat_shared.outbox import Outbox


def encode_cursor(room: Room) -> str:
    """Keyset cursor of the rooms list: activity time (µs) and id."""
    return cursors.encode(cursors.micros(room.last_activity_at), room.id)


def decode_cursor(raw: str) -> tuple[datetime, int]:
    """The inverse of :func:`encode_cursor`; 422 on anything else."""
    micros, room_id = cursors.decode(raw, 2)
    return cursors.at_micros(micros), room_id


@dataclass
class RoomService:
    """Room use cases, bound to one request's session."""

    session: AsyncSession
    outbox: Outbox
    permissions: Permissions
    max_members: int = 100

    @property
    def rooms(self) -> RoomRepository:
        return RoomRepository(self.session)

    async def membership(self, room_id: int, user_id: int) -> tuple[Room, RoomMember]:
        """The room and the caller's membership: 404 if no such room, 403 if not a member."""
        room = await self.rooms.get(room_id)
        if room is None:
            raise NotFound("Room not found")
        member = await self.rooms.member(room_id, user_id)
        if member is None:
            raise Forbidden("Not a member of this room")
        return room, member

    async def create(self, user_id: int, body: RoomCreate) -> tuple[RoomOut, bool]:
        """A new room (True), or the existing direct room of the pair (False)."""
        if body.type == DIRECT:
            return await self._open_direct(user_id, body.member_ids[0])
        return await self._create_group(user_id, body.name or "", body.member_ids), True

    async def _open_direct(self, user_id: int, other: int) -> tuple[RoomOut, bool]:
        if other == user_id:
            raise BadRequest("A direct room needs another user")
        # Never across a block (CONTRACT §5), even when the room exists: its history stays readable
        # through GET /rooms/{id}, but it cannot be (re)opened as a conversation.
        if await self.permissions.blocked_between(user_id, other):
            raise Forbidden("You cannot message this user")
        key = pair_key(user_id, other)
        existing = await self.rooms.by_pair(key)
        if existing is not None:
            return await self.view(existing, user_id), False
        if not await self.permissions.are_friends(user_id, other):
            raise Forbidden("Direct rooms are only between friends")
        now = utcnow()
        room = Room(
            type=DIRECT, name=None, pair_key=key, created_by=user_id, last_seq=0, created_at=now, last_activity_at=now
        )
        try:
            async with self.session.begin_nested():
                self.session.add(room)
                await self.session.flush()
        except IntegrityError:
            # Another request opened the same pair concurrently and committed first: return its room.
            existing = await self.rooms.by_pair(key)
            if existing is None:
                raise
            return await self.view(existing, user_id), False
        members = sorted((user_id, other))
        self.rooms.add_members(room.id, members, now)
        self.outbox.add(
            self.session,
            RoomCreated(room_id=room.id, type=DIRECT, name=None, member_ids=members, created_by=user_id, at=now),
        )
        metrics.ROOMS_CREATED.labels(DIRECT).inc()
        return await self._fresh_view(room), True

    async def _create_group(self, user_id: int, name: str, invited: list[int]) -> RoomOut:
        others = sorted(set(invited) - {user_id})
        if len(others) + 1 > self.max_members:
            raise BadRequest(f"A group has at most {self.max_members} members")
        friends = await self.permissions.friends_among(user_id, others)
        if strangers := [u for u in others if u not in friends]:
            raise Forbidden(f"Only friends can be invited (not: {', '.join(map(str, strangers[:10]))})")
        now = utcnow()
        room = Room(
            type=GROUP, name=name, pair_key=None, created_by=user_id, last_seq=0, created_at=now, last_activity_at=now
        )
        self.session.add(room)
        await self.session.flush()
        members = sorted([user_id, *others])
        self.rooms.add_members(room.id, members, now, owner=user_id)
        self.outbox.add(
            self.session,
            RoomCreated(room_id=room.id, type=GROUP, name=name, member_ids=members, created_by=user_id, at=now),
        )
        metrics.ROOMS_CREATED.labels(GROUP).inc()
        return await self._fresh_view(room)

    async def _fresh_view(self, room: Room) -> RoomOut:
        """A room just created: its members as staged, nothing sent or read yet."""
        await self.session.flush()
        rows = (await self.rooms.memberships_of([room.id]))[room.id]
        return RoomOut(
            id=room.id,
            type=room.type,
            name=room.name,
            member_ids=[m.user_id for m in rows],
            members=members_out(room, rows),
            last_message=None,
            unread_count=0,
            last_read_seq=0,
            last_seq=0,
            settings=settings_out(None, utcnow()),
        )

    async def view(self, room: Room, user_id: int, member: RoomMember | None = None) -> RoomOut:
        """One room as ``user_id`` sees it."""
        member = member or await self.rooms.member(room.id, user_id)
        read = member.last_read_seq if member else 0
        rows = (await self.rooms.memberships_of([room.id]))[room.id]
        repo = MessageRepository()
        last, unread = await asyncio.gather(
            repo.by_seqs([(room.id, room.last_seq)]), repo.unread(room.id, user_id, read, room.last_seq)
        )
        return RoomOut(
            id=room.id,
            type=room.type,
            name=room.name,
            member_ids=[m.user_id for m in rows],
            members=members_out(room, rows),
            last_message=message_out(last[room.id]) if room.id in last else None,
            unread_count=unread,
            last_read_seq=read,
            last_seq=room.last_seq,
            settings=settings_out(member, utcnow()),
        )

    async def list(self, user_id: int, cursor: str | None, limit: int) -> RoomPage:
        """The caller's rooms, most recent activity first, with last message and unread count."""
        rows = await self.rooms.rooms_of(user_id, decode_cursor(cursor) if cursor else None, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        ids = [room.id for room, _ in rows]
        members = await self.rooms.memberships_of(ids)
        now = utcnow()
        repo = MessageRepository()
        last = await repo.by_seqs([(room.id, room.last_seq) for room, _ in rows])
        unread = await asyncio.gather(
            *(repo.unread(room.id, user_id, m.last_read_seq, room.last_seq) for room, m in rows)
        )
        items = [
            RoomOut(
                id=room.id,
                type=room.type,
                name=room.name,
                member_ids=[row.user_id for row in members[room.id]],
                members=members_out(room, members[room.id]),
                last_message=message_out(last[room.id]) if room.id in last else None,
                unread_count=count,
                last_read_seq=m.last_read_seq,
                last_seq=room.last_seq,
                settings=settings_out(m, now),
            )
            for (room, m), count in zip(rows, unread, strict=True)
        ]
        return RoomPage(items=items, next_cursor=encode_cursor(rows[-1][0]) if more and rows else None)

    async def invite(self, room: Room, inviter: int, invitee: int) -> RoomOut:
        """Add a friend of the inviter to a group room."""
        if room.type != GROUP:
            raise BadRequest("Members can only be added to group rooms")
        # Invites of one room run one at a time, so the member check and the head count below see every
        # earlier invite: two invites of one user, or racing for the last seat, answer 201 and 409.
        await self.rooms.lock(room.id)
        if await self.rooms.role_of(room.id, inviter) not in (OWNER, ADMIN):
            raise Forbidden("Only the room's owner or an admin can add members")
        if await self.rooms.member(room.id, invitee) is not None:
            raise Conflict("Already a member")
        if invitee != inviter and not await self.permissions.are_friends(inviter, invitee):
            raise Forbidden("Only friends can be invited")
        if await self.rooms.count_members(room.id) >= self.max_members:
            raise Conflict(f"A group has at most {self.max_members} members")
        now = utcnow()
        self.rooms.add_members(room.id, [invitee], now)
        await self.session.flush()
        members = await self.rooms.member_ids(room.id)
        self.outbox.add(
            self.session,
            MemberJoined(room_id=room.id, user_id=invitee, by_user_id=inviter, member_ids=members, at=now),
        )
        return await self.view(room, inviter)

    async def mark_read(self, room: Room, member: RoomMember, seq: int) -> ReadOut:
        """Move the caller's read position forward (capped at the room's last seq); never backwards."""
        target = min(seq, room.last_seq)
        position = member.last_read_seq
        if target > position and await self.rooms.advance_read(room.id, member.user_id, target):
            position = target
            self.outbox.add(
                self.session,
                MessagesRead(room_id=room.id, user_id=member.user_id, last_read_seq=target, at=utcnow()),
            )
        else:
            refreshed = await self.rooms.member(room.id, member.user_id)
            position = max(position, refreshed.last_read_seq if refreshed else 0)
        unread = await MessageRepository().unread(room.id, member.user_id, position, room.last_seq)
        return ReadOut(room_id=room.id, last_read_seq=position, unread_count=unread)
