"""``/profile/me``: the caller's own profile and password."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.api.deps import AuthServiceDep, ClientAddress, ProfileServiceDep, ThrottleDep
from app.schemas.user import OwnProfile, PasswordChange, ProfileUpdate
from chat_shared.auth import CurrentUser
from chat_shared.responses import AUTH, RETRY_AFTER, TOO_LARGE, UNAVAILABLE, error

router = APIRouter(prefix="/profile", tags=["profile"], responses=AUTH)


@router.get("/me", response_model=OwnProfile)
async def read_me(user: CurrentUser, profiles: ProfileServiceDep) -> OwnProfile:
    """The caller's profile, with email."""
    return await profiles.own(await profiles.me(user.id))


@router.patch("/me", response_model=OwnProfile, responses=TOO_LARGE)
async def update_me(body: ProfileUpdate, user: CurrentUser, profiles: ProfileServiceDep) -> OwnProfile:
    """Change display name, status message or avatar URL."""
    return await profiles.own(await profiles.update(user.id, body))


@router.put(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error(400, "Current password is wrong")
    | error(429, "Too many wrong current passwords (counted with failed logins)", RETRY_AFTER)
    | TOO_LARGE
    | UNAVAILABLE,
)
async def change_password(
    body: PasswordChange, user: CurrentUser, auth: AuthServiceDep, throttle: ThrottleDep, address: ClientAddress
) -> Response:
    """Change the password; every session ends, this one too."""
    await auth.change_password(user.id, body.current_password, body.new_password, address, throttle)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
