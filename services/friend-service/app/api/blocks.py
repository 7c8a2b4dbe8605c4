"""``/blocks``: block, unblock, list."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.deps import FriendServiceDep, Limit
from app.schemas.friend import BlockOut, BlockPage, UserRef
from chat_shared.auth import CurrentUser
from chat_shared.cursor import Cursor, last_id
from chat_shared.responses import AUTH, TOO_LARGE, UNAVAILABLE, error
from chat_shared.schemas import Id

router = APIRouter(prefix="/blocks", tags=["blocks"], responses=AUTH)


@router.post(
    "",
    response_model=BlockOut,
    status_code=status.HTTP_201_CREATED,
    responses=error(400, "Yourself")
    | error(404, "No such user")
    | error(409, "Already blocked")
    | TOO_LARGE
    | UNAVAILABLE,
)
async def block(body: UserRef, user: CurrentUser, friends: FriendServiceDep) -> BlockOut:
    """Block a user; any friendship and pending request between you end."""
    return await friends.block(user.id, body.user_id)


@router.get("", response_model=BlockPage)
async def list_blocks(
    user: CurrentUser, friends: FriendServiceDep, limit: Limit = 50, cursor: Cursor = None
) -> BlockPage:
    """Users the caller blocked, by user id."""
    return await friends.blocks(user.id, last_id(cursor), limit)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error(404, "Not blocked"))
async def unblock(user_id: Id, user: CurrentUser, friends: FriendServiceDep) -> Response:
    """Lift a block (a former friendship is not restored)."""
    await friends.unblock(user.id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
