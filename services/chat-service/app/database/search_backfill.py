"""Give search 2-grams to messages stored without them (written before messages carried ``grams``).

    python -m app.database.search_backfill        # in services/chat-service, with the service's settings

Idempotent and safe beside a running service: it reads messages that have no ``grams`` field, in ``_id``
order, and sets the grams of each only if its content is still the one they were computed from — an edit
or a deletion in between writes its own grams and wins. The version is not raised: what a client sees of
the message does not change.
"""

from __future__ import annotations

import asyncio
from typing import Any

from app.core.config import Settings
from app.database.mongo import close_mongo_client, init_mongo
from app.models.message import Message
from app.services.text import grams

BATCH = 1000


async def backfill(batch: int = BATCH) -> int:
    """Add the grams of every message without them; how many were written."""
    collection: Any = Message.get_motor_collection()
    written = 0
    after: Any = None
    while True:
        query: dict[str, Any] = {"grams": {"$exists": False}}
        if after is not None:
            query["_id"] = {"$gt": after}
        docs = await collection.find(query, {"content": 1}).sort("_id", 1).limit(batch).to_list(batch)
        if not docs:
            return written
        # One update per message (not bulk_write: mongomock, the stand-in of development, lacks it).
        results = await asyncio.gather(
            *(
                collection.update_one(
                    {"_id": d["_id"], "grams": {"$exists": False}, "content": d.get("content")},
                    {"$set": {"grams": grams(d["content"]) if d.get("content") else []}},
                )
                for d in docs
            )
        )
        written += sum(int(r.modified_count) for r in results)
        after = docs[-1]["_id"]


async def main() -> None:
    settings = Settings()
    client = await init_mongo(settings.mongo_url, settings.mongo_db)
    try:
        print(f"search grams written to {await backfill()} messages")
    finally:
        close_mongo_client(client)


if __name__ == "__main__":
    asyncio.run(main())
