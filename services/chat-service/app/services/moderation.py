"""Group moderation (CONTRACT §8): rename, remove a member, change a role, hand over ownership, leave.

Every change of one room runs under the room's row lock (what a send's seq increment also holds) and
decides on the membership as committed now, so two moderators acting at once see each other's changes,
the room always has exactly one owner, and a removal falls between two seqs: every message sent after
it commits has a higher seq, and the fan-out sends none of those to the removed member (see
``FanOutBatch`` in :mod:`app.kafka.consumers`).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.models.room import ADMIN, GROUP, MEMBER, OWNER, Room, RoomMember
from app.repositories.rooms import RoomRepository
from app.schemas.room import RoomOut
from app.services.room_service import RoomService
from chat_shared.db import utcnow
from chat_shared.errors import BadRequest, Forbidden, NotFound
from chat_shared.events.chat import MemberLeft, MemberRoleChanged, RoomRole, RoomUpdated


@dataclass
class ModerationService:
    """Moderation use cases, bound to one request's session (through the room service's)."""

    rooms: RoomService

    @property
    def repo(self) -> RoomRepository:
        return self.rooms.rooms

    async def _members(self, room: Room, actor: int) -> dict[int, RoomMember]:
        """Lock the group room and read its members; 400 for a direct room, 403 if the actor has left."""
        if room.type != GROUP:
            raise BadRequest("Direct rooms have no roles or moderation")
        await self.repo.lock(room.id)
        members = await self.repo.members_for_update(room.id)
        if actor not in members:
            raise Forbidden("Not a member of this room")
        return members

    async def rename(self, room: Room, actor: int, name: str) -> RoomOut:
        """The owner or an admin renames the group."""
        members = await self._members(room, actor)
        if members[actor].role not in (OWNER, ADMIN):
            raise Forbidden("Only the room's owner or an admin can rename it")
        if room.name != name:
            room.name = name
            self.rooms.outbox.add(
                self.rooms.session, RoomUpdated(room_id=room.id, name=name, by_user_id=actor, at=utcnow())
            )
        return await self.rooms.view(room, actor)

    async def remove(self, room: Room, actor: int, target: int) -> None:
        """The owner removes anyone else, an admin removes members; removing oneself is leaving."""
        members = await self._members(room, actor)
        if target == actor:
            return await self._leave(room, members, actor)
        victim = members.get(target)
        if victim is None:
            raise NotFound("Not a member of this room")
        role = members[actor].role
        if victim.role == OWNER:
            raise Forbidden("The owner cannot be removed")
        if role != OWNER and not (role == ADMIN and victim.role == MEMBER):
            raise Forbidden("Only the owner removes admins; the owner or an admin removes members")
        await self._drop(room, members, target, removed_by=actor)

    async def leave(self, room: Room, user_id: int) -> None:
        """Leave a group room (a direct room cannot be left: it is the pair's one conversation)."""
        if room.type != GROUP:
            raise BadRequest("A direct room cannot be left")
        await self._leave(room, await self._members(room, user_id), user_id)

    async def _leave(self, room: Room, members: dict[int, RoomMember], user_id: int) -> None:
        """The owner who leaves passes the room on to the longest-standing admin, else member."""
        leaving = members[user_id]
        await self._drop(room, members, user_id, removed_by=None)
        if leaving.role == OWNER and (heir := self.repo.heir(list(members.values()))) is not None:
            heir.role = OWNER
            self._role_changed(room, heir.user_id, RoomRole.OWNER, by=user_id)

    async def _drop(self, room: Room, members: dict[int, RoomMember], user_id: int, removed_by: int | None) -> None:
        await self.repo.remove_member(room.id, user_id)
        members.pop(user_id)
        self.rooms.outbox.add(
            self.rooms.session,
            MemberLeft(
                room_id=room.id, user_id=user_id, member_ids=sorted(members), removed_by=removed_by, at=utcnow()
            ),
        )

    async def set_role(self, room: Room, actor: int, target: int, role: str) -> RoomOut:
        """The owner makes a member an admin, or an admin a member."""
        members = await self._members(room, actor)
        if members[actor].role != OWNER:
            raise Forbidden("Only the room's owner changes roles")
        subject = members.get(target)
        if subject is None:
            raise NotFound("Not a member of this room")
        if subject.role == OWNER:
            raise BadRequest("The owner's role changes only by handing over ownership (POST /rooms/{id}/owner)")
        if subject.role != role:
            subject.role = role
            self._role_changed(room, target, RoomRole(role), by=actor)
        return await self.rooms.view(room, actor)

    async def hand_over(self, room: Room, actor: int, target: int) -> RoomOut:
        """The owner makes another member the owner and becomes an admin."""
        members = await self._members(room, actor)
        if members[actor].role != OWNER:
            raise Forbidden("Only the room's owner hands over ownership")
        heir = members.get(target)
        if heir is None:
            raise NotFound("Not a member of this room")
        if target != actor:
            heir.role = OWNER
            members[actor].role = ADMIN
            self._role_changed(room, target, RoomRole.OWNER, by=actor)
            self._role_changed(room, actor, RoomRole.ADMIN, by=actor)
        return await self.rooms.view(room, actor)

    def _role_changed(self, room: Room, user_id: int, role: RoomRole, by: int) -> None:
        self.rooms.outbox.add(
            self.rooms.session,
            MemberRoleChanged(room_id=room.id, user_id=user_id, role=role, by_user_id=by, at=utcnow()),
        )
