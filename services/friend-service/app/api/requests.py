"""``/friends/requests``: send, list, accept, reject, cancel."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response, status

from app.api.deps import FriendServiceDep, Limit
from app.schemas.friend import FriendRequestOut, RequestPage, UserRef
from chat_shared.auth import CurrentUser
from chat_shared.cursor import Cursor, last_id
from chat_shared.responses import AUTH, TOO_LARGE, UNAVAILABLE, error
from chat_shared.schemas import Id

router = APIRouter(prefix="/friends/requests", tags=["friend requests"], responses=AUTH)

# accept, reject, cancel: only one side of a pending request may act on it.
DECIDE = (
    error(403, "Not the side of the request that may do this")
    | error(404, "No such request")
    | error(409, "No longer pending")
)


@router.post(
    "",
    response_model=FriendRequestOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {
            "description": "The other user had already asked you: their request is accepted",
            "model": FriendRequestOut,
        },
    }
    | error(400, "To yourself")
    | error(403, "Blocked either way")
    | error(404, "No such user")
    | error(409, "Already friends or already pending")
    | TOO_LARGE
    | UNAVAILABLE,
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
    return await friends.pending(user.id, direction == "incoming", last_id(cursor), limit)


@router.post("/{request_id}/accept", response_model=FriendRequestOut, responses=DECIDE)
async def accept(request_id: Id, user: CurrentUser, friends: FriendServiceDep) -> FriendRequestOut:
    """The addressee accepts (403 for anyone else, 409 if no longer pending)."""
    return await friends.accept(user.id, request_id)


@router.post("/{request_id}/reject", response_model=FriendRequestOut, responses=DECIDE)
async def reject(request_id: Id, user: CurrentUser, friends: FriendServiceDep) -> FriendRequestOut:
    """The addressee declines (403 for anyone else, 409 if no longer pending)."""
    return await friends.reject(user.id, request_id)


@router.delete("/{request_id}", status_code=status.HTTP_204_NO_CONTENT, responses=DECIDE)
async def cancel(request_id: Id, user: CurrentUser, friends: FriendServiceDep) -> Response:
    """The requester withdraws (403 for anyone else, 409 if no longer pending)."""
    await friends.cancel(user.id, request_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
