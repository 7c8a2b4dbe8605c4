"""Message search: ``/rooms/{id}/messages/search`` (one room) and ``/messages/search`` (the caller's rooms)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import AttachmentUrlsDep, RoomMemberDep, SearchServiceDep
from app.schemas.message import SearchPage
from chat_shared.auth import CurrentUser
from chat_shared.responses import AUTH, MEMBER

SearchText = Annotated[
    str,
    Query(
        min_length=2,
        max_length=100,
        description="2–100 characters; matches any part of a message's text, whatever its case or script",
    ),
]
#: ``next_cursor`` of the previous page: the search order's last key (time in µs, message id in two halves).
SearchCursor = Annotated[
    str | None,
    Query(
        max_length=60,
        pattern=r"^(0|[1-9][0-9]{0,18})_(0|[1-9][0-9]{0,18})_(0|[1-9][0-9]{0,18})$",
        description="`next_cursor` of the previous page",
    ),
]
Limit = Annotated[int, Query(ge=1, le=100)]

router = APIRouter(tags=["search"])


@router.get("/rooms/{room_id}/messages/search", response_model=SearchPage, responses=MEMBER)
async def search_room(
    access: RoomMemberDep,
    search: SearchServiceDep,
    urls: AttachmentUrlsDep,
    q: SearchText,
    cursor: SearchCursor = None,
    limit: Limit = 20,
) -> SearchPage:
    """Messages of the room containing ``q``, newest first."""
    page = await search.search(access.user_id, access.room, q, cursor, limit)
    urls.sign_all(hit.message for hit in page.items)
    return page


@router.get("/messages/search", response_model=SearchPage, responses=AUTH)
async def search_all(
    user: CurrentUser,
    search: SearchServiceDep,
    urls: AttachmentUrlsDep,
    q: SearchText,
    cursor: SearchCursor = None,
    limit: Limit = 20,
) -> SearchPage:
    """Messages containing ``q`` in every room the caller is a member of now, newest first."""
    page = await search.search(user.id, None, q, cursor, limit)
    urls.sign_all(hit.message for hit in page.items)
    return page
