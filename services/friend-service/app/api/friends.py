"""``/friends``: the caller's friends, unfriending."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.deps import FriendServiceDep, Limit
from app.schemas.friend import FriendPage
from chat_shared.auth import CurrentUser
from chat_shared.cursor import Cursor, last_id
from chat_shared.responses import AUTH, error
from chat_shared.schemas import Id

router = APIRouter(prefix="/friends", tags=["friends"], responses=AUTH)


@router.get("", response_model=FriendPage)
async def list_friends(
    user: CurrentUser, friends: FriendServiceDep, limit: Limit = 50, cursor: Cursor = None
) -> FriendPage:
    """The caller's friends by user id, with current username, display name and presence."""
    return await friends.friends(user.id, last_id(cursor), limit)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error(404, "Not friends"))
async def unfriend(user_id: Id, user: CurrentUser, friends: FriendServiceDep) -> Response:
    """End the friendship for both users."""
    await friends.unfriend(user.id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
