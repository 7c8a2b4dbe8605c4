"""Dependencies of friend-service routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from app.services.friend_service import FriendService
from chat_shared.db import SessionDep


def get_friend_service(request: Request, session: SessionDep) -> FriendService:
    """Friend use cases bound to this request's session (and its caller's token, for fallback lookups)."""
    state = request.app.state
    return FriendService(
        session=session,
        outbox=state.outbox,
        directory=state.user_directory,
        presence=state.presence,
        authorization=request.headers.get("authorization"),
    )


FriendServiceDep = Annotated[FriendService, Depends(get_friend_service)]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size (default 50, max 100)")]
Cursor = Annotated[int | None, Query(ge=0, lt=2**63, description="next_cursor of the previous page")]
