"""``/blocks``: block, unblock, list."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.deps import Cursor, FriendServiceDep, Limit
from app.schemas.friend import BlockOut, BlockPage, UserRef
from chat_shared.auth import CurrentUser

router = APIRouter(prefix="/blocks", tags=["blocks"])


@router.post(
    "",
    response_model=BlockOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        400: {"description": "Yourself"},
        404: {"description": "No such user"},
        409: {"description": "Already blocked"},
    },
)
async def block(body: UserRef, user: CurrentUser, friends: FriendServiceDep) -> BlockOut:
    """Block a user; any friendship and pending request between you end."""
    return await friends.block(user.id, body.user_id)


@router.get("", response_model=BlockPage)
async def list_blocks(
    user: CurrentUser, friends: FriendServiceDep, limit: Limit = 50, cursor: Cursor = None
) -> BlockPage:
    """Users the caller blocked, by user id."""
    return await friends.blocks(user.id, cursor, limit)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses={404: {"description": "Not blocked"}})
async def unblock(user_id: int, user: CurrentUser, friends: FriendServiceDep) -> Response:
    """Lift a block (a former friendship is not restored)."""
    await friends.unblock(user.id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
