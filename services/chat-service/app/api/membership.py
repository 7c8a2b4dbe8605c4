"""The caller's own part of a room: settings (mute, notify) and typing (CONTRACT §8)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.deps import RoomMemberDep, TypingDep
from app.core.state import StateDep
from app.repositories.rooms import RoomRepository
from app.schemas.members import RoomSettingsOut, SettingsUpdate
from app.services.room_settings import update_settings
from chat_shared.db import SessionDep
from chat_shared.responses import AUTH, MEMBER, TOO_LARGE

router = APIRouter(prefix="/rooms/{room_id}", tags=["rooms"], responses=AUTH)


@router.put("/settings", response_model=RoomSettingsOut, responses=MEMBER | TOO_LARGE)
async def put_settings(
    body: SettingsUpdate, access: RoomMemberDep, state: StateDep, session: SessionDep
) -> RoomSettingsOut:
    """Replace the caller's settings for the room; they steer push and e-mail, never the stream."""
    return await update_settings(session, state.outbox, access.member, body)


@router.post("/typing", status_code=status.HTTP_204_NO_CONTENT, responses=MEMBER)
async def typing(access: RoomMemberDep, typing: TypingDep, session: SessionDep) -> Response:
    """Tell the room's other members the caller is typing (a repeat within 2 s is not sent again).

    Their open streams get an ephemeral ``typing`` event: never stored, never replayed, without an ``id``.
    """
    members = await RoomRepository(session).member_ids(access.room.id)
    await typing.typing(access.room.id, access.user_id, members)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
