"""Dependencies of friend-service routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from app.core.state import StateDep
from app.services.friend_service import FriendService
from app.services.user_directory import DirectoryLookup
from app.services.user_lookup import UserLookup
from chat_shared.db import SessionDep


async def get_user_lookup(request: Request, state: StateDep, session: SessionDep) -> UserLookup:
    """Users by id for this request: the replica, else user-service asked on the caller's behalf."""
    return DirectoryLookup(session, state.user_directory, request.headers.get("authorization"))


UserLookupDep = Annotated[UserLookup, Depends(get_user_lookup)]


async def get_friend_service(state: StateDep, session: SessionDep, users: UserLookupDep) -> FriendService:
    """Friend use cases bound to this request's session."""
    return FriendService(session=session, outbox=state.outbox, users=users, presence=state.presence)


FriendServiceDep = Annotated[FriendService, Depends(get_friend_service)]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size (default 50, max 100)")]
