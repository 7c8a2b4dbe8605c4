"""Message bodies and the public message object (CONTRACT §5)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from chat_shared.events.chat import MessageSnapshot
from chat_shared.schemas import ClosedModel

MAX_CONTENT = 4000
_WHITESPACE = re.compile(r"\s")


def _content(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("content must not be blank")
    if len(value) > MAX_CONTENT:
        raise ValueError(f"content must be at most {MAX_CONTENT} characters")
    return value


def valid_emoji(value: str) -> bool:
    """1–32 characters, no whitespace."""
    return 1 <= len(value) <= 32 and not _WHITESPACE.search(value)


Content = Annotated[str, AfterValidator(_content)]


class MessageCreate(ClosedModel):
    """``POST /rooms/{id}/messages``."""

    content: Content
    message_type: Literal["text"] = "text"
    client_msg_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class MessageUpdate(ClosedModel):
    """``PATCH /rooms/{id}/messages/{message_id}``."""

    content: Content


class MessageOut(MessageSnapshot):
    """The public message object."""


class MessagePage(BaseModel):
    """A page of messages in ascending ``seq``; ``next_cursor`` continues in the direction asked."""

    items: list[MessageOut]
    next_cursor: int | None
