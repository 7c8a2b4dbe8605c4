"""Dependencies of chat-service routes, as ``Annotated`` aliases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.core.state import StateDep
from app.models.room import Room, RoomMember
from app.services.message_service import MessageService
from app.services.moderation import ModerationService
from app.services.permissions import Permissions
from app.services.room_service import RoomService
from app.services.typing import Typing
from chat_shared.auth import CurrentUser
from chat_shared.db import SessionDep
from chat_shared.schemas import Id


async def get_permissions(request: Request, state: StateDep, session: SessionDep) -> Permissions:
    """The permission replica of this request, confirming its refusals with friend-service on the caller's behalf."""
    return Permissions(session, state.friend_directory, request.headers.get("authorization"))


PermissionsDep = Annotated[Permissions, Depends(get_permissions)]


async def get_room_service(state: StateDep, session: SessionDep, permissions: PermissionsDep) -> RoomService:
    """Room use cases bound to this request's session."""
    return RoomService(
        session=session,
        outbox=state.outbox,
        permissions=permissions,
        max_members=state.settings.group_max_members,
    )


async def get_message_service(state: StateDep, session: SessionDep, permissions: PermissionsDep) -> MessageService:
    """Message use cases bound to this request's session."""
    return MessageService(session=session, outbox=state.outbox, permissions=permissions)


RoomServiceDep = Annotated[RoomService, Depends(get_room_service)]
MessageServiceDep = Annotated[MessageService, Depends(get_message_service)]


async def get_moderation(rooms: RoomServiceDep) -> ModerationService:
    """Moderation use cases, on the room service's session."""
    return ModerationService(rooms)


async def get_typing(state: StateDep) -> Typing:
    """Typing indicators: the debounce in Redis, delivery through the ephemeral bus."""
    return Typing(state.redis, state.ephemeral)


ModerationDep = Annotated[ModerationService, Depends(get_moderation)]
TypingDep = Annotated[Typing, Depends(get_typing)]


@dataclass
class Membership:
    """The room a route acts on and the caller's membership of it."""

    room: Room
    member: RoomMember

    @property
    def user_id(self) -> int:
        return self.member.user_id


async def get_membership(room_id: Id, user: CurrentUser, rooms: RoomServiceDep) -> Membership:
    """401 without a token, 404 if the room does not exist, 403 if the caller is not a member."""
    room, member = await rooms.membership(room_id, user.id)
    return Membership(room=room, member=member)


RoomMemberDep = Annotated[Membership, Depends(get_membership)]
