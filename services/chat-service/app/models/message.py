"""The message document (MongoDB ``chat.messages`` through Beanie)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from chat_shared.events.chat import AttachmentRef

#: Distinct emoji one message can carry: a reaction bar stays readable and the document bounded.
MAX_DISTINCT_REACTIONS = 50
#: Reactions (emoji, user) one message can carry: every emoji by every member of a full group (50 × 100).
#: Users per emoji are bounded only by this, since members who left keep their reactions.
MAX_REACTIONS = 5000
#: UTF-8 bytes of one emoji; the longest emoji (a ZWJ sequence with skin tones) has 35.
MAX_EMOJI_BYTES = 64


class Message(Document):
    """One message. ``seq`` orders a room; ``dedupe_key`` makes retries with one ``client_msg_id`` idempotent.

    ``dedupe_key`` is the client's ``client_msg_id`` when given, else ``"~" + id`` — unique either way, so a
    plain unique index on (room_id, sender_id, dedupe_key) does what a partial index on client_msg_id would,
    on every MongoDB version and on mongomock alike. ``reactions`` is a list of ``{"e": emoji, "u": user}``
    pairs (no emoji ever becomes a field name, so no character needs escaping). ``version`` is 1 on insert
    and every change increments it in the same update (``$inc``), so a version names exactly one state.
    """

    room_id: int
    seq: int
    sender_id: int
    content: str | None
    message_type: str = "text"
    client_msg_id: str | None = None
    dedupe_key: str
    created_at: datetime
    edited_at: datetime | None = None
    deleted: bool = False
    reactions: list[dict[str, Any]] = Field(default_factory=list)
    #: The verified file of an ``image`` or ``file`` message.
    attachment: AttachmentRef | None = None
    #: A document without the field has never been changed by a versioning writer: ``$inc`` then makes its
    #: first change version 1, still above what it was read as.
    version: int = 0

    class Settings:
        name = "messages"
        indexes = [
            IndexModel([("room_id", ASCENDING), ("seq", ASCENDING)], unique=True, name="room_seq"),
            IndexModel(
                [("room_id", ASCENDING), ("sender_id", ASCENDING), ("dedupe_key", ASCENDING)],
                unique=True,
                name="room_sender_dedupe",
            ),
        ]
