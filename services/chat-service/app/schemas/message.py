"""Message bodies and the public message object (CONTRACT §5)."""

from __future__ import annotations

from typing import Annotated, Literal

import emoji
from pydantic import AfterValidator, BaseModel, Field, model_validator

from app.models.message import MAX_EMOJI_BYTES
from app.schemas.attachment import AttachmentId, AttachmentOut
from chat_shared.events.chat import MessageSnapshot
from chat_shared.schemas import ClosedModel

MAX_CONTENT = 4000


def _content(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("content must not be blank")
    if len(value) > MAX_CONTENT:
        raise ValueError(f"content must be at most {MAX_CONTENT} characters")
    return value


def valid_emoji(value: str) -> bool:
    """Exactly one emoji of the Unicode emoji data (skin tones, flags and ZWJ sequences included), at most
    ``MAX_EMOJI_BYTES`` of UTF-8: no text, whitespace or control character is ever a reaction."""
    return 0 < len(value) <= MAX_EMOJI_BYTES and emoji.is_emoji(value) and len(value.encode()) <= MAX_EMOJI_BYTES


#: A reaction: 1–32 characters, none of them a control character or whitespace. The characters are listed
#: rather than written ``\s``, whose meaning differs between regex engines (the server's and a client's).
EMOJI_PATTERN = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+$"


Content = Annotated[str, AfterValidator(_content)]


class MessageCreate(ClosedModel):
    """``POST /rooms/{id}/messages``: a text, or an uploaded file (``image``/``file``) with an optional caption."""

    content: Content | None = None
    message_type: Literal["text", "image", "file"] = "text"
    client_msg_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    reply_to: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=64,
            description="The `id` of a message of this room to quote; another room's, unknown or deleted → 422",
        ),
    ] = None
    attachment_id: AttachmentId | None = Field(None, description="An upload of `POST /rooms/{id}/attachments`")

    @model_validator(mode="after")
    def _content_or_attachment(self) -> MessageCreate:
        if self.message_type == "text":
            if self.content is None:
                raise ValueError("a text message needs content")
            if self.attachment_id is not None:
                raise ValueError("a text message carries no attachment: send it as image or file")
        elif self.attachment_id is None:
            raise ValueError(f"an {self.message_type} message needs attachment_id")
        return self


class MessageUpdate(ClosedModel):
    """``PATCH /rooms/{id}/messages/{message_id}``."""

    content: Content


class MessageOut(MessageSnapshot):
    """The public message object."""

    #: The snapshot's attachment, with URLs minted for each read.
    attachment: AttachmentOut | None = None

    version: int = Field(description="1 when sent, +1 with each edit, deletion and reaction change")


class SearchHit(BaseModel):
    """A message search found, and its room."""

    room_id: int
    message: MessageOut


class SearchPage(BaseModel):
    """Search results, newest first; ``next_cursor`` continues with older ones (null: no more)."""

    items: list[SearchHit]
    next_cursor: str | None


class MessagePage(BaseModel):
    """A page of messages in ascending ``seq``; ``next_cursor`` continues in the direction asked."""

    items: list[MessageOut]
    next_cursor: int | None
