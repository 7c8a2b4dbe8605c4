"""``/friends/requests``: send, list, accept, reject, cancel."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response, status

from app.api.deps import Cursor, FriendServiceDep, Limit
from app.schemas.friend import FriendRequestOut, RequestPage, UserRef
from chat_shared.auth import CurrentUser

router = APIRouter(prefix="/friends/requests", tags=["friend requests"])


@router.post(
    "",
    response_model=FriendRequestOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {
            "description": "The other user had already asked you: their request is accepted",
            "model": FriendRequestOut,
        },
        400: {"description": "To yourself"},
        403: {"description": "Blocked either way"},
        404: {"description": "No such user"},
        409: {"description": "Already friends or already pending"},
        503: {"description": "user-service is needed to find the user and is down"},
    },
)
async def send_request(
    body: UserRef, user: CurrentUser, friends: FriendServiceDep, response: Response
) -> FriendRequestOut:
    """Ask a user to be friends."""
    request, created = await friends.send_request(user.id, body.user_id)
    if not created:
        response.status_code = status.HTTP_200_OK
    return request


@router.get("", response_model=RequestPage)
async def list_requests(
    user: CurrentUser,
    friends: FriendServiceDep,
    direction: Literal["incoming", "outgoing"] = "incoming",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> RequestPage:
    """Pending requests to (incoming) or from (outgoing) the caller, newest first."""
    return await friends.pending(user.id, direction == "incoming", cursor, limit)


@router.post("/{request_id}/accept", response_model=FriendRequestOut)
async def accept(request_id: int, user: CurrentUser, friends: FriendServiceDep) -> FriendRequestOut:
    """The addressee accepts (403 for anyone else, 409 if no longer pending)."""
    return await friends.accept(user.id, request_id)


@router.post("/{request_id}/reject", response_model=FriendRequestOut)
async def reject(request_id: int, user: CurrentUser, friends: FriendServiceDep) -> FriendRequestOut:
    """The addressee declines (403 for anyone else, 409 if no longer pending)."""
    return await friends.reject(user.id, request_id)


@router.delete("/{request_id}", status_code=status.HTTP_204_NO_CONTENT)
async def cancel(request_id: int, user: CurrentUser, friends: FriendServiceDep) -> Response:
    """The requester withdraws (403 for anyone else, 409 if no longer pending)."""
    await friends.cancel(user.id, request_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
