"""Queries on the ``messages`` collection (Beanie documents, atomic updates through the Motor collection).

Every read is bounded by the room's committed ``last_seq`` (read from MySQL by the caller): a document
whose seq is above it belongs to a send whose MySQL transaction did not commit (an orphan, see
docs/chat-service.md) and is never shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import PydanticObjectId
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument

from app.models.message import Message
from app.repositories.timing import mongo_call, mongo_timer


def object_id(value: str) -> ObjectId | None:
    """The ObjectId of a message id string, or None if it is not one."""
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None


def _collection() -> Any:
    return Message.get_motor_collection()


def _parse(raw: dict[str, Any] | None) -> Message | None:
    return None if raw is None else Message.model_validate(raw)


class MessageRepository:
    """Reads and writes of messages."""

    @mongo_call("find")
    async def by_dedupe(self, room_id: int, sender_id: int, key: str) -> Message | None:
        """The message a sender already sent with this ``client_msg_id``."""
        return await Message.find_one({"room_id": room_id, "sender_id": sender_id, "dedupe_key": key})

    @mongo_call("insert")
    async def insert(self, message: Message) -> Message:
        """Insert; raises ``DuplicateKeyError`` if the seq or the dedupe key is taken."""
        await message.insert()
        return message

    @mongo_call("delete")
    async def delete_orphans(self, room_id: int, above_seq: int) -> int:
        """Remove documents of sends that never committed (seq above the committed ``last_seq``)."""
        result = await _collection().delete_many({"room_id": room_id, "seq": {"$gt": above_seq}})
        return int(result.deleted_count)

    async def get(self, room_id: int, message_id: str, last_seq: int) -> Message | None:
        """A visible message of a room by id."""
        oid = object_id(message_id)
        if oid is None:
            return None
        with mongo_timer("find"):
            return await Message.find_one({"_id": oid, "room_id": room_id, "seq": {"$lte": last_seq}})

    @mongo_call("find")
    async def page(
        self, room_id: int, last_seq: int, *, before: int | None, after: int | None, limit: int
    ) -> list[Message]:
        """Up to ``limit`` messages in ascending seq: after ``after``, or the newest before ``before``."""
        if after is not None:
            query = {"room_id": room_id, "seq": {"$gt": after, "$lte": last_seq}}
            return await Message.find(query).sort("+seq").limit(limit).to_list()
        upper = last_seq if before is None else min(last_seq, before - 1)
        query = {"room_id": room_id, "seq": {"$lte": upper}}
        newest_first = await Message.find(query).sort("-seq").limit(limit).to_list()
        return list(reversed(newest_first))

    async def by_seqs(self, pairs: list[tuple[int, int]]) -> dict[int, Message]:
        """The message with seq ``s`` of each room ``r`` in ``pairs`` (one query), by room id."""
        wanted = [{"room_id": r, "seq": s} for r, s in pairs if s > 0]
        if not wanted:
            return {}
        with mongo_timer("find"):
            found = await Message.find({"$or": wanted}).to_list()
        return {m.room_id: m for m in found}

    async def unread(self, room_id: int, user_id: int, after_seq: int, last_seq: int) -> int:
        """Messages above the read position, up to the committed seq, not sent by the user, not deleted."""
        if last_seq <= after_seq:
            return 0
        with mongo_timer("count"):
            return int(
                await _collection().count_documents(
                    {
                        "room_id": room_id,
                        "seq": {"$gt": after_seq, "$lte": last_seq},
                        "sender_id": {"$ne": user_id},
                        "deleted": {"$ne": True},
                    }
                )
            )

    @mongo_call("update")
    async def set_content(self, message: Message, content: str, at: datetime) -> Message:
        """Replace the content of a (not deleted) message; sets ``edited_at``."""
        raw = await _collection().find_one_and_update(
            {"_id": message.id, "deleted": {"$ne": True}},
            {"$set": {"content": content, "edited_at": at}},
            return_document=ReturnDocument.AFTER,
        )
        return _parse(raw) or message

    @mongo_call("update")
    async def soft_delete(self, message: Message) -> bool:
        """Mark deleted and drop the content; False if it already was."""
        result = await _collection().update_one(
            {"_id": message.id, "deleted": {"$ne": True}}, {"$set": {"deleted": True, "content": None, "reactions": []}}
        )
        return bool(result.modified_count)

    @mongo_call("update")
    async def react(
        self, message_id: PydanticObjectId | None, emoji: str, user_id: int, add: bool
    ) -> tuple[Message | None, bool]:
        """Add or remove one user's reaction; (the message after, whether anything changed)."""
        pair = {"e": emoji, "u": user_id}
        query: dict[str, Any]
        change: dict[str, Any]
        if add:
            query = {"_id": message_id, "reactions": {"$ne": pair}}
            change = {"$push": {"reactions": pair}}
        else:
            query = {"_id": message_id, "reactions": pair}
            change = {"$pull": {"reactions": pair}}
        raw = await _collection().find_one_and_update(query, change, return_document=ReturnDocument.AFTER)
        if raw is not None:
            return _parse(raw), True
        return await Message.find_one({"_id": message_id}), False
