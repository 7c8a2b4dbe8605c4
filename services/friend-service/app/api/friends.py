"""``/friends``: the caller's friends, unfriending."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.deps import Cursor, FriendServiceDep, Limit
from app.schemas.friend import FriendPage
from chat_shared.auth import CurrentUser

router = APIRouter(prefix="/friends", tags=["friends"])


@router.get("", response_model=FriendPage)
async def list_friends(
    user: CurrentUser, friends: FriendServiceDep, limit: Limit = 50, cursor: Cursor = None
) -> FriendPage:
    """The caller's friends by user id, with current username, display name and presence."""
    return await friends.friends(user.id, cursor, limit)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses={404: {"description": "Not friends"}})
async def unfriend(user_id: int, user: CurrentUser, friends: FriendServiceDep) -> Response:
    """End the friendship for both users."""
    await friends.unfriend(user.id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
