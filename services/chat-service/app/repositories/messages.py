"""Queries on the ``messages`` collection (Beanie documents, atomic updates through the Motor collection).

Every read is bounded by the room's committed ``last_seq`` (read from MySQL by the caller): a document
whose seq is above it belongs to a send whose MySQL transaction did not commit (an orphan, see
docs/chat-service.md) and is never shown.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from beanie import PydanticObjectId
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument

from app.models.message import MAX_DISTINCT_REACTIONS, MAX_REACTIONS, Message
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
        return await _count_unread(room_id, user_id, after_seq, last_seq)

    async def unread_mentions(self, room_id: int, user_id: int, after_seq: int, last_seq: int) -> int:
        """Of the messages :meth:`unread` counts, those that mention the user."""
        return await _count_unread(room_id, user_id, after_seq, last_seq, mentions=user_id)

    @mongo_call("update")
    async def refresh_quotes(self, quoted: Message, text: str | None, reply_id: PydanticObjectId | None = None) -> int:
        """Give the replies quoting ``quoted`` (or only the reply ``reply_id``) its excerpt ``text`` as of its
        version, each one version up, unless they already hold the excerpt of this version or a newer one."""
        query: dict[str, Any] = {"reply_to.id": str(quoted.id), "reply_to.v": {"$lt": quoted.version}}
        if reply_id is not None:
            query["_id"] = reply_id
        result = await _collection().update_many(
            query, {"$set": {"reply_to.excerpt": text, "reply_to.v": quoted.version}, "$inc": {"version": 1}}
        )
        return int(result.modified_count)

    @mongo_call("update")
    async def set_content(
        self, message: Message, content: str, at: datetime, mentions: list[int], grams: list[str]
    ) -> Message | None:
        """Replace the content of a (not deleted) message with its mentions and search grams, set
        ``edited_at``, one version up; the message after. The same content again changes nothing (a retry
        keeps the first edit's time and version)."""
        raw = await _collection().find_one_and_update(
            {"_id": message.id, "deleted": {"$ne": True}, "content": {"$ne": content}},
            {
                "$set": {"content": content, "edited_at": at, "mentions": mentions, "grams": grams},
                "$inc": {"version": 1},
            },
            return_document=ReturnDocument.AFTER,
        )
        return _parse(raw) if raw is not None else await Message.find_one({"_id": message.id})

    @mongo_call("update")
    async def soft_delete(self, message: Message) -> Message | None:
        """Mark deleted and drop the content and reactions, one version up; the message after, whether this call
        or an earlier one deleted it."""
        raw = await _collection().find_one_and_update(
            {"_id": message.id, "deleted": {"$ne": True}},
            {
                "$set": {
                    "deleted": True,
                    "content": None,
                    "reactions": [],
                    "reply_to": None,
                    "mentions": [],
                    "grams": [],
                },
                "$inc": {"version": 1},
            },
            return_document=ReturnDocument.AFTER,
        )
        return _parse(raw) if raw is not None else await Message.find_one({"_id": message.id})

    @mongo_call("update")
    async def react(
        self, message_id: PydanticObjectId | None, emoji: str, user_id: int, add: bool
    ) -> tuple[Reacted, Message | None]:
        """Add or remove one user's reaction, one version up, within the limits; the outcome and the message
        after. The limits are part of the update's filter, so concurrent reactions can never pass them."""
        pair = {"e": emoji, "u": user_id}
        query: dict[str, Any]
        change: dict[str, Any]
        if add:
            query = {"_id": message_id, "deleted": {"$ne": True}, "reactions": {"$ne": pair}, "$expr": _room_for(emoji)}
            change = {"$push": {"reactions": pair}, "$inc": {"version": 1}}
        else:
            query = {"_id": message_id, "reactions": pair}
            change = {"$pull": {"reactions": pair}, "$inc": {"version": 1}}
        outcome, current = Reacted.CONTENDED, None
        for _ in range(3):
            raw = await _collection().find_one_and_update(query, change, return_document=ReturnDocument.AFTER)
            if raw is not None:
                return Reacted.CHANGED, _parse(raw)
            current = await Message.find_one({"_id": message_id})
            outcome = _why_unchanged(current, pair, add)
            if outcome is not Reacted.CONTENDED:
                break
        return outcome, current


class Reacted(Enum):
    """What a reaction write did."""

    CHANGED = "changed"
    #: The reaction already was (or was not) there: the message is in the asked state.
    UNCHANGED = "unchanged"
    MISSING = "missing"
    DELETED = "deleted"
    TOO_MANY_EMOJI = "too_many_emoji"
    TOO_MANY_REACTIONS = "too_many_reactions"
    #: The message had room when re-read: concurrent reactions kept changing it.
    CONTENDED = "contended"


def _room_for(emoji: str) -> dict[str, Any]:
    """An ``$expr``: the message can take one more reaction with ``emoji`` (total and distinct limits)."""
    emojis = {"$ifNull": ["$reactions.e", []]}
    return {
        "$and": [
            {"$lt": [{"$size": {"$ifNull": ["$reactions", []]}}, MAX_REACTIONS]},
            {
                "$or": [
                    {"$in": [{"$literal": emoji}, emojis]},
                    {"$lt": [{"$size": {"$setUnion": [emojis, []]}}, MAX_DISTINCT_REACTIONS]},
                ]
            },
        ]
    }


def _why_unchanged(message: Message | None, pair: dict[str, Any], add: bool) -> Reacted:
    """Why a reaction write matched nothing, read from the message as it is now."""
    if message is None:
        return Reacted.MISSING
    if message.deleted:
        return Reacted.DELETED
    if (pair in message.reactions) == add:
        return Reacted.UNCHANGED
    if not add:
        return Reacted.CONTENDED
    if len(message.reactions) >= MAX_REACTIONS:
        return Reacted.TOO_MANY_REACTIONS
    emojis = {r["e"] for r in message.reactions}
    if pair["e"] not in emojis and len(emojis) >= MAX_DISTINCT_REACTIONS:
        return Reacted.TOO_MANY_EMOJI
    return Reacted.CONTENDED


async def _count_unread(room_id: int, user_id: int, after_seq: int, last_seq: int, **narrower: Any) -> int:
    """The messages above the read position, up to the committed seq, not the user's own, not deleted, and
    matching ``narrower`` as well."""
    if last_seq <= after_seq:
        return 0
    query = {
        "room_id": room_id,
        **narrower,
        "seq": {"$gt": after_seq, "$lte": last_seq},
        "sender_id": {"$ne": user_id},
        "deleted": {"$ne": True},
    }
    with mongo_timer("count"):
        return int(await _collection().count_documents(query))
