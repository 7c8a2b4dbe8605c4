"""Room bodies and the public room object (CONTRACT §5)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from app.schemas.members import MemberOut, RoomSettingsOut
from app.schemas.message import MessageOut
from chat_shared.schemas import ClosedModel, Id, Seq


class RoomCreate(ClosedModel):
    """``POST /rooms``: a direct room names exactly one other user; a group has a name."""

    type: Literal["direct", "group"]
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    member_ids: Annotated[list[Id], Field(max_length=200)]

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise ValueError("name must not be blank")
        return value

    @model_validator(mode="after")
    def _shape(self) -> RoomCreate:
        if self.type == "direct":
            if len(self.member_ids) != 1:
                raise ValueError("a direct room names exactly one other member")
            if self.name is not None:
                raise ValueError("a direct room has no name")
        elif self.name is None:
            raise ValueError("a group room needs a name")
        return self


class MemberAdd(ClosedModel):
    """``POST /rooms/{id}/members``."""

    user_id: Id


class ReadPosition(ClosedModel):
    """``POST /rooms/{id}/read``: a ``seq`` past the room's last message reads up to the last message."""

    seq: Seq


class ReadOut(BaseModel):
    """The caller's read position after the update."""

    room_id: int
    last_read_seq: int
    unread_count: int


class RoomOut(BaseModel):
    """The public room object, as the caller sees it."""

    id: int
    type: str
    name: str | None
    member_ids: list[int]
    members: list[MemberOut]
    last_message: MessageOut | None
    unread_count: int
    last_read_seq: int
    last_seq: int
    settings: RoomSettingsOut


class RoomPage(BaseModel):
    """Rooms, most recent activity first."""

    items: list[RoomOut]
    next_cursor: str | None
