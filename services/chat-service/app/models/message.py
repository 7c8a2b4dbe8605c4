"""The message document (MongoDB ``chat.messages`` through Beanie)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from chat_shared.events.chat import AttachmentRef

#: Distinct emoji one message can carry: a reaction bar stays readable and the document bounded.
MAX_DISTINCT_REACTIONS = 50
#: Reactions (emoji, user) one message can carry: every emoji by every member of a full group (50 × 100).
#: Users per emoji are bounded only by this, since members who left keep their reactions.
MAX_REACTIONS = 5000
#: UTF-8 bytes of one emoji; the longest emoji (a ZWJ sequence with skin tones) has 35.
MAX_EMOJI_BYTES = 64


class QuotedRef(BaseModel):
    """What a reply keeps of the message it quotes. ``v`` is the quoted message's version the excerpt was
    taken from: a change of the quoted message rewrites the excerpt only of replies holding an older one, so
    two edits finishing in either order leave the newer text (``MessageRepository.refresh_quotes``)."""

    id: str
    seq: int
    sender_id: int
    excerpt: str | None
    v: int


class Message(Document):
    """One message. ``seq`` orders a room; ``dedupe_key`` makes retries with one ``client_msg_id`` idempotent.

    ``dedupe_key`` is the client's ``client_msg_id`` when given, else ``"~" + id`` — unique either way, so a
    plain unique index on (room_id, sender_id, dedupe_key) does what a partial index on client_msg_id would,
    on every MongoDB version and on mongomock alike. ``reactions`` is a list of ``{"e": emoji, "u": user}``
    pairs (no emoji ever becomes a field name, so no character needs escaping). ``version`` is 1 on insert
    and every change increments it in the same update (``$inc``), so a version names exactly one state.

    ``reply_to`` is the quoted message of a reply, ``mentions`` the members its ``@username`` mentions name,
    ``grams`` the character 2-grams search looks up (app.services.text); a deletion empties all three.
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
    reply_to: QuotedRef | None = None
    mentions: list[int] = Field(default_factory=list)
    grams: list[str] = Field(default_factory=list)

    class Settings:
        name = "messages"
        indexes = [
            IndexModel([("room_id", ASCENDING), ("seq", ASCENDING)], unique=True, name="room_seq"),
            IndexModel(
                [("room_id", ASCENDING), ("sender_id", ASCENDING), ("dedupe_key", ASCENDING)],
                unique=True,
                name="room_sender_dedupe",
            ),
            # The replies of a message, rewritten when it is edited or deleted (sparse: most messages quote none).
            IndexModel([("reply_to.id", ASCENDING)], sparse=True, name="reply_to"),
            # GET /rooms: a room's unread messages that mention the caller.
            IndexModel([("room_id", ASCENDING), ("mentions", ASCENDING), ("seq", ASCENDING)], name="room_mentions"),
            # Search: one 2-gram of the query in each of the caller's rooms, newest first (a merge over the rooms).
            IndexModel(
                [("room_id", ASCENDING), ("grams", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="room_grams_time",
            ),
        ]
