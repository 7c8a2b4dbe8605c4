"""The search query on the ``messages`` collection: candidates holding a query's 2-grams, newest first.

The candidates are ordered by ``(created_at, _id)`` descending, the order of the ``room_grams_time`` index
after its room and gram: one room's candidates are one index range, several rooms' a merge of their ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId

from app.models.message import Message
from app.repositories.timing import mongo_call


@dataclass(frozen=True, slots=True)
class SearchKey:
    """A position in the search order: the last candidate a page looked at."""

    created_at: datetime
    id: ObjectId


def gram_filter(query_grams: list[str], folded: str) -> dict[str, Any]:
    """All of the query's 2-grams; a one-character query: a 2-gram that starts with it (a range of the index,
    not a regex, which MongoDB refuses for some characters such as NUL)."""
    if query_grams:
        return {"$all": query_grams}
    # Strings compare by UTF-8 bytes in MongoDB and by code points in Python: the same order.
    return {"$elemMatch": {"$gte": folded, "$lt": folded + "\U0010ffff\U0010ffff"}}


class MessageSearchRepository:
    """Reads of the search index."""

    @mongo_call("find")
    async def candidates(
        self, room_ids: list[int], grams: dict[str, Any], after: SearchKey | None, limit: int
    ) -> list[Message]:
        """Up to ``limit`` not deleted messages of the rooms holding the grams, older than ``after``."""
        query: dict[str, Any] = {
            "room_id": room_ids[0] if len(room_ids) == 1 else {"$in": room_ids},
            "grams": grams,
            "deleted": {"$ne": True},
        }
        if after is not None:
            query["created_at"] = {"$lte": after.created_at}
            query["$nor"] = [{"created_at": after.created_at, "_id": {"$gte": after.id}}]
        return await Message.find(query).sort("-created_at", "-_id").limit(limit).to_list()
