"""Request and response bodies of accounts and profiles."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, EmailStr, Field, StringConstraints

from app.schemas.common import CleanText, HttpUrl
from chat_shared.schemas import ClosedModel, Timestamp

Username = Annotated[str, StringConstraints(min_length=3, max_length=20, pattern=r"^[A-Za-z0-9_]+$")]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]


def _display_name(value: str) -> str:
    if not 1 <= len(value) <= 50:
        raise ValueError("must be 1 to 50 characters")
    return value


DisplayName = Annotated[CleanText, AfterValidator(_display_name)]
StatusMessage = Annotated[CleanText, Field(max_length=200)]


class RegisterRequest(ClosedModel):
    """``POST /auth/register``."""

    email: Annotated[EmailStr, Field(max_length=254)]
    username: Username
    password: Password
    display_name: DisplayName | None = None


class ProfileUpdate(ClosedModel):
    """``PATCH /profile/me``: only the fields given change; ``null`` clears the optional ones."""

    display_name: DisplayName | None = None
    status_message: StatusMessage | None = None
    avatar_url: Annotated[HttpUrl, Field(max_length=500)] | None = None


class PasswordChange(ClosedModel):
    """``PUT /profile/me/password``."""

    current_password: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    new_password: Password


class PublicProfile(BaseModel):
    """What anyone signed in may see of a user."""

    id: int
    username: str
    display_name: str
    status_message: str | None
    avatar_url: str | None
    is_online: bool
    last_seen_at: Timestamp | None
    created_at: Timestamp


class OwnProfile(PublicProfile):
    """The caller's own profile: the public one plus the email."""

    email: str


class UserPage(BaseModel):
    """A page of public profiles."""

    items: list[PublicProfile]
    next_cursor: str | None = None
