"""The message document (MongoDB ``chat.messages`` through Beanie)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel


class Message(Document):
    """One message. ``seq`` orders a room; ``dedupe_key`` makes retries with one ``client_msg_id`` idempotent.

    ``dedupe_key`` is the client's ``client_msg_id`` when given, else ``"~" + id`` — unique either way, so a
    plain unique index on (room_id, sender_id, dedupe_key) does what a partial index on client_msg_id would,
    on every MongoDB version and on mongomock alike. ``reactions`` is a list of ``{"e": emoji, "u": user}``
    pairs (no emoji ever becomes a field name, so no character needs escaping).
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
