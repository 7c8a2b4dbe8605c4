"""The public message object, shared by routes and events."""

from __future__ import annotations

from typing import Any

from app.models.message import Message
from app.schemas.attachment import AttachmentOut
from app.schemas.message import MessageOut
from chat_shared.events.chat import ReplyRef


def reactions_map(pairs: list[dict[str, Any]]) -> dict[str, list[int]]:
    """``[{"e": "👍", "u": 1}, …]`` → ``{"👍": [1, …]}`` (first reaction first)."""
    result: dict[str, list[int]] = {}
    for pair in pairs:
        result.setdefault(str(pair["e"]), []).append(int(pair["u"]))
    return result


def reply_ref(message: Message) -> ReplyRef | None:
    """The quoted message of a reply as clients see it (a deleted reply shows none)."""
    quoted = message.reply_to
    if quoted is None or message.deleted:
        return None
    return ReplyRef(id=quoted.id, seq=quoted.seq, sender_id=quoted.sender_id, excerpt=quoted.excerpt)


def message_out(message: Message) -> MessageOut:
    """The public message object."""
    return MessageOut(
        id=str(message.id),
        room_id=message.room_id,
        seq=message.seq,
        sender_id=message.sender_id,
        content=None if message.deleted else message.content,
        message_type=message.message_type,
        client_msg_id=message.client_msg_id,
        created_at=message.created_at,
        edited_at=message.edited_at,
        deleted=message.deleted,
        reactions=reactions_map(message.reactions),
        reply_to=reply_ref(message),
        mentions=[] if message.deleted else list(message.mentions),
        version=message.version,
        attachment=None if message.deleted or message.attachment is None else AttachmentOut.of(message.attachment),
    )
