"""``/rooms``: create, list, read, invite, leave, read positions (moderation: :mod:`app.api.moderation`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.api.deps import ModerationDep, RoomMemberDep, RoomServiceDep
from app.schemas.room import MemberAdd, ReadOut, ReadPosition, RoomCreate, RoomOut, RoomPage
from chat_shared.auth import CurrentUser
from chat_shared.cursor import TimeCursor
from chat_shared.responses import AUTH, MEMBER, TOO_LARGE, error

router = APIRouter(prefix="/rooms", tags=["rooms"], responses=AUTH)


@router.post(
    "",
    response_model=RoomOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": RoomOut, "description": "The pair's existing direct room"},
    }
    | error(400, "A direct room with yourself, or a group over the member limit")
    | error(403, "Not friends, or blocked")
    | TOO_LARGE,
)
async def create_room(body: RoomCreate, user: CurrentUser, rooms: RoomServiceDep, response: Response) -> RoomOut:
    """A direct room (201 new, 200 existing: one per pair) or a group room of the caller's friends."""
    room, created = await rooms.create(user.id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return room


@router.get("", response_model=RoomPage)
async def list_rooms(
    user: CurrentUser,
    rooms: RoomServiceDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: TimeCursor = None,
) -> RoomPage:
    """The caller's rooms, most recent activity first."""
    return await rooms.list(user.id, cursor, limit)


@router.get("/{room_id}", response_model=RoomOut, responses=MEMBER)
async def read_room(access: RoomMemberDep, rooms: RoomServiceDep) -> RoomOut:
    """One room."""
    return await rooms.view(access.room, access.user_id, access.member)


@router.post(
    "/{room_id}/members",
    response_model=RoomOut,
    status_code=status.HTTP_201_CREATED,
    responses=MEMBER
    | error(400, "Not a group room")
    | error(403, "Not a member, neither the owner nor an admin, or the invitee is not the inviter's friend")
    | error(409, "Already a member, or the group is full")
    | TOO_LARGE,
)
async def add_member(body: MemberAdd, access: RoomMemberDep, rooms: RoomServiceDep) -> RoomOut:
    """Invite a friend into a group room (owner or admin)."""
    return await rooms.invite(access.room, access.user_id, body.user_id)


@router.delete(
    "/{room_id}/members/me", status_code=status.HTTP_204_NO_CONTENT, responses=MEMBER | error(400, "A direct room")
)
async def leave_room(access: RoomMemberDep, moderation: ModerationDep) -> Response:
    """Leave a group room; an owner who leaves passes ownership to the longest-standing admin, else member."""
    await moderation.leave(access.room, access.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{room_id}/read", response_model=ReadOut, responses=MEMBER | TOO_LARGE)
async def mark_read(body: ReadPosition, access: RoomMemberDep, rooms: RoomServiceDep) -> ReadOut:
    """Move the caller's read position forward (never backwards)."""
    return await rooms.mark_read(access.room, access.member, body.seq)
