"""Avatars: ``/profile/me/avatar`` (presigned upload, then set) and ``/users/avatars/{name}`` (the picture)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from fastapi.responses import RedirectResponse

from app.api.deps import AvatarServiceDep, ProfileServiceDep
from app.core.state import StateDep
from app.schemas.avatar import AvatarCreate, AvatarSet, AvatarUpload
from app.schemas.user import OwnProfile
from app.services.avatar_service import avatar_key
from chat_shared.auth import CurrentUser
from chat_shared.responses import AUTH, TOO_LARGE, error

router = APIRouter(prefix="/profile/me/avatar", tags=["profile"], responses=AUTH)
pictures = APIRouter(prefix="/users/avatars", tags=["users"])


@router.post(
    "",
    response_model=AvatarUpload,
    status_code=status.HTTP_201_CREATED,
    responses=error(413, "The declared size is over 5 MiB"),
)
async def create_avatar_upload(body: AvatarCreate, user: CurrentUser, avatars: AvatarServiceDep) -> AvatarUpload:
    """Sign the upload of a new avatar picture (JPEG, PNG, GIF or WebP; else 422).

    ``PUT`` the picture's exact bytes to ``upload.url`` with ``upload.headers``, then ``PUT /profile/me/avatar``
    with ``upload_id``."""
    return await avatars.create(user.id, body)


@router.put(
    "",
    response_model=OwnProfile,
    responses=error(409, "The upload is not there yet (`upload not found`)") | TOO_LARGE,
)
async def set_avatar(
    body: AvatarSet, user: CurrentUser, avatars: AvatarServiceDep, profiles: ProfileServiceDep
) -> OwnProfile:
    """Make an uploaded picture the avatar: a 256 px square; 422 when the upload is not the declared image."""
    return await profiles.own(await avatars.apply(user.id, body.upload_id))


@pictures.get(
    "/{name}",
    status_code=status.HTTP_307_TEMPORARY_REDIRECT,
    response_class=RedirectResponse,
    responses={
        307: {
            "description": "To a presigned URL of the picture (no body)",
            "headers": {"Location": {"description": "The picture's presigned URL", "schema": {"type": "string"}}},
        }
    },
)
async def avatar_picture(
    name: Annotated[str, Path(pattern=r"^[0-9a-f]{64}\.webp$", description="As in an `avatar_url`")],
    state: StateDep,
) -> RedirectResponse:
    """An avatar picture: a redirect to a short-lived URL of the private bucket (no token needed: the name is
    the picture's hash, and profiles are public to every signed-in user)."""
    url = state.store.presign_download(avatar_key(name.removesuffix(".webp")))
    return RedirectResponse(
        url, status_code=status.HTTP_307_TEMPORARY_REDIRECT, headers={"Cache-Control": "private, max-age=300"}
    )
