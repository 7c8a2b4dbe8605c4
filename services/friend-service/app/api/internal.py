"""``/internal``: answers for the other services, never routed by the gateway (CONTRACT §1).

chat-service keeps a replica of friendships and blocks from ``friend.events`` and asks here only to confirm
a refusal its replica would give, so that acting right after accepting a request does not depend on how far
the replica lags. The caller's own bearer token is forwarded: the answer is about that user only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import FriendServiceDep
from chat_shared.auth import CurrentUser
from chat_shared.relationships import MAX_ASKED, RELATIONSHIPS_PATH, RelationshipList
from chat_shared.responses import AUTH
from chat_shared.schemas import Id

router = APIRouter(tags=["internal"], responses=AUTH)


@router.get(RELATIONSHIPS_PATH, response_model=RelationshipList)
async def relationships(
    user: CurrentUser,
    friends: FriendServiceDep,
    user_ids: Annotated[list[Id], Query(min_length=1, max_length=MAX_ASKED, description="The other users (repeat)")],
) -> RelationshipList:
    """Whether the caller is friends with each user, since when, and whether a block stands between them."""
    return await friends.relationships(user.id, user_ids)
