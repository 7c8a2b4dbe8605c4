"""Members, roles and per-member settings of a room (CONTRACT §8): bodies and the objects shown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from chat_shared.schemas import ClosedModel, Id, Timestamp

#: The values of :class:`chat_shared.events.chat.RoomRole` and ``NotifyLevel``, spelled out so the OpenAPI
#: document lists them where they are used.
Role = Literal["owner", "admin", "member"]
Notify = Literal["all", "mentions", "none"]


class MemberOut(BaseModel):
    """One member of a room; ``role`` is null in a direct room (it has no roles)."""

    user_id: int
    role: Role | None
    joined_at: Timestamp


class RoomSettingsOut(BaseModel):
    """The caller's own settings for a room; ``muted_until`` is null when the room is not muted (a mute
    whose time has passed reads as null)."""

    muted_until: Timestamp | None
    notify: Notify


class RoomRename(ClosedModel):
    """``PATCH /rooms/{id}``: the group's new name."""

    name: Annotated[str, Field(min_length=1, max_length=100)]

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("name must not be blank")
        return value


class RoleChange(ClosedModel):
    """``PUT /rooms/{id}/members/{user_id}/role``: ownership moves only through ``POST /rooms/{id}/owner``."""

    role: Literal["admin", "member"]


class OwnerTransfer(ClosedModel):
    """``POST /rooms/{id}/owner``: the member who becomes the owner."""

    user_id: Id


class SettingsUpdate(ClosedModel):
    """``PUT /rooms/{id}/settings``: replaces the caller's settings for the room. A ``muted_until`` without a
    zone is UTC; one already past means "not muted"."""

    # Not strict: a time arrives as an RFC 3339 string (anything else is still a 422).
    muted_until: Annotated[datetime | None, Field(strict=False)] = None
    notify: Notify = "all"

    @field_validator("muted_until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("muted_until is out of range") from None
