"""The one write the thumbnail worker makes to a message document."""

from __future__ import annotations

from bson import ObjectId
from pymongo import ReturnDocument

from app.models.message import Message
from app.repositories.timing import mongo_call


@mongo_call("update")
async def mark_thumbnail(message_id: str) -> Message | None:
    """Record that the message's attachment has its thumbnail, one version up; the message after, whether this
    call or an earlier one marked it (None once the message is gone)."""
    oid = ObjectId(message_id)
    raw = await Message.get_motor_collection().find_one_and_update(
        {"_id": oid, "attachment": {"$ne": None}, "attachment.thumbnail": {"$ne": True}},
        {"$set": {"attachment.thumbnail": True}, "$inc": {"version": 1}},
        return_document=ReturnDocument.AFTER,
    )
    return Message.model_validate(raw) if raw is not None else await Message.find_one({"_id": oid})
