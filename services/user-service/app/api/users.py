"""``/users``: public profiles, batch lookup, search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import ProfileServiceDep
from app.schemas.user import PublicProfile, UserPage
from chat_shared.auth import CurrentUser
from chat_shared.cursor import Cursor, last_id
from chat_shared.errors import Unprocessable
from chat_shared.responses import AUTH, NOT_FOUND
from chat_shared.schemas import Id, is_id

router = APIRouter(prefix="/users", tags=["users"], responses=AUTH)
MAX_BATCH = 100
#: 1 to ``MAX_BATCH`` ids, comma-separated, nothing else.
IDS_PATTERN = rf"^[0-9]{{1,19}}(,[0-9]{{1,19}}){{0,{MAX_BATCH - 1}}}$"


def parse_ids(raw: str) -> list[int]:
    """``"1,2,3"`` → ``[1, 2, 3]`` (the pattern of ``ids`` has let through digits and commas only); 422 for
    an id beyond the 64-bit range."""
    ids = [int(part) for part in raw.split(",")]
    if not all(is_id(i) for i in ids):
        raise Unprocessable("ids must be positive 64-bit integers", loc=("query", "ids"))
    return ids


@router.get("", response_model=UserPage)
async def batch(
    user: CurrentUser,
    profiles: ProfileServiceDep,
    ids: Annotated[str, Query(max_length=2000, pattern=IDS_PATTERN, description="Comma-separated ids, at most 100")],
) -> UserPage:
    """Public profiles of several users at once."""
    return await profiles.batch(parse_ids(ids))


@router.get("/search", response_model=UserPage)
async def search(
    user: CurrentUser,
    profiles: ProfileServiceDep,
    q: Annotated[str, Query(min_length=1, max_length=50)],
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Cursor = None,
) -> UserPage:
    """Users whose username or display name starts with ``q``."""
    return await profiles.search(q.strip(), last_id(cursor) or 0, limit)


@router.get("/{user_id}", response_model=PublicProfile, responses=NOT_FOUND)
async def read_user(user_id: Id, user: CurrentUser, profiles: ProfileServiceDep) -> PublicProfile:
    """A public profile."""
    return await profiles.get(user_id)
