"""``/users``: public profiles, batch lookup, search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import ProfileServiceDep
from app.schemas.user import PublicProfile, UserPage
from chat_shared.auth import CurrentUser
from chat_shared.errors import Unprocessable

router = APIRouter(prefix="/users", tags=["users"])
MAX_BATCH = 100


def parse_ids(raw: str) -> list[int]:
    """``"1,2,3"`` → ``[1, 2, 3]``; 422 on anything else or more than 100 ids."""
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        raise Unprocessable("ids must be comma-separated integers") from exc
    if not ids or len(ids) > MAX_BATCH or any(i <= 0 for i in ids):
        raise Unprocessable(f"ids must hold 1 to {MAX_BATCH} positive integers")
    return ids


@router.get("", response_model=UserPage)
async def batch(
    user: CurrentUser,
    profiles: ProfileServiceDep,
    ids: Annotated[str, Query(max_length=1200, description="Comma-separated ids, at most 100")],
) -> UserPage:
    """Public profiles of several users at once."""
    return await profiles.batch(parse_ids(ids))


@router.get("/search", response_model=UserPage)
async def search(
    user: CurrentUser,
    profiles: ProfileServiceDep,
    q: Annotated[str, Query(min_length=1, max_length=50)],
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[int, Query(ge=0)] = 0,
) -> UserPage:
    """Users whose username or display name starts with ``q``."""
    return await profiles.search(q.strip(), cursor, limit)


@router.get("/{user_id}", response_model=PublicProfile, responses={404: {"description": "No such user"}})
async def read_user(user_id: int, user: CurrentUser, profiles: ProfileServiceDep) -> PublicProfile:
    """A public profile."""
    return await profiles.get(user_id)
