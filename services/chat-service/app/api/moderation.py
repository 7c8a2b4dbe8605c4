"""Group moderation: rename, remove a member, change a role, hand over ownership (CONTRACT §8)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.deps import ModerationDep, RoomMemberDep
from app.schemas.members import OwnerTransfer, RoleChange, RoomRename
from app.schemas.room import RoomOut
from chat_shared.responses import AUTH, MEMBER, TOO_LARGE, error
from chat_shared.schemas import Id

router = APIRouter(prefix="/rooms/{room_id}", tags=["moderation"], responses=AUTH)

DIRECT = error(400, "A direct room: it has no roles")
NO_ROOM_OR_MEMBER = error(404, "No such room, or the user is not a member of it")


@router.patch(
    "",
    response_model=RoomOut,
    responses=MEMBER | DIRECT | error(403, "Not a member, or neither the owner nor an admin") | TOO_LARGE,
)
async def rename_room(body: RoomRename, access: RoomMemberDep, moderation: ModerationDep) -> RoomOut:
    """Rename a group room (owner or admin)."""
    return await moderation.rename(access.room, access.user_id, body.name)


@router.delete(
    "/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=MEMBER
    | DIRECT
    | error(403, "Not a member, not allowed to remove this member, or the member is the owner")
    | NO_ROOM_OR_MEMBER,
)
async def remove_member(user_id: Id, access: RoomMemberDep, moderation: ModerationDep) -> Response:
    """Remove a member: the owner removes anyone, an admin removes members. Your own id leaves the room."""
    await moderation.remove(access.room, access.user_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/members/{user_id}/role",
    response_model=RoomOut,
    responses=MEMBER
    | error(400, "A direct room, or the owner's own role (hand over ownership instead)")
    | error(403, "Not a member, or not the owner")
    | NO_ROOM_OR_MEMBER
    | TOO_LARGE,
)
async def change_role(user_id: Id, body: RoleChange, access: RoomMemberDep, moderation: ModerationDep) -> RoomOut:
    """Make a member an admin, or an admin a member (owner only)."""
    return await moderation.set_role(access.room, access.user_id, user_id, body.role)


@router.post(
    "/owner",
    response_model=RoomOut,
    responses=MEMBER | DIRECT | error(403, "Not a member, or not the owner") | NO_ROOM_OR_MEMBER | TOO_LARGE,
)
async def hand_over_ownership(body: OwnerTransfer, access: RoomMemberDep, moderation: ModerationDep) -> RoomOut:
    """Make another member the owner; the previous owner becomes an admin (owner only)."""
    return await moderation.hand_over(access.room, access.user_id, body.user_id)
