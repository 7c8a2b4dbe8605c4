"""Message search: in one room, or in every room the caller is a member of now.

A page asks the index for candidates (messages holding every 2-gram of the query, newest first), keeps the
ones the query really is a substring of, and stops at ``limit`` hits or after :data:`MAX_SCANNED`
candidates; its cursor is the last candidate it looked at, so a page of rare hits among many false
candidates may be short and still have a ``next_cursor``. Why 2-grams, and what they cost:
docs/chat-service.md, "Search".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from bson import ObjectId
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import metrics
from app.models.message import Message
from app.models.room import Room
from app.repositories.message_search import MessageSearchRepository, SearchKey, gram_filter
from app.repositories.rooms import RoomRepository
from app.schemas.message import SearchHit, SearchPage
from app.services.text import fold, query_grams
from app.services.views import message_out
from chat_shared import cursor as cursors
from chat_shared.errors import Unprocessable

#: Candidates one page looks at, at most: bounds a page's time when the grams are common but apart.
MAX_SCANNED = 1000
_LOW = (1 << 48) - 1


def encode_cursor(key: SearchKey) -> str:
    """``<created_at µs>_<ObjectId high 48 bits>_<low 48 bits>`` (the codec's keys are below 2⁶³)."""
    oid = int.from_bytes(key.id.binary, "big")
    return cursors.encode(cursors.micros(_aware(key.created_at)), oid >> 48, oid & _LOW)


def decode_cursor(raw: str) -> SearchKey:
    """The inverse of :func:`encode_cursor`; 422 for anything it could not have made."""
    micros, high, low = cursors.decode(raw, 3)
    if high > _LOW or low > _LOW:
        raise Unprocessable("invalid cursor", loc=("query", "cursor"))
    oid = ObjectId(((high << 48) | low).to_bytes(12, "big"))
    return SearchKey(cursors.at_micros(micros), oid)


def _aware(at: datetime) -> datetime:
    """MongoDB times are UTC; a client that is not time-zone aware hands them back naive."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@dataclass
class SearchService:
    """Search use cases, bound to one request's session."""

    session: AsyncSession

    async def search(self, user_id: int, room: Room | None, q: str, cursor: str | None, limit: int) -> SearchPage:
        """One page of the messages containing ``q``: in ``room`` (the caller's membership checked by the
        route), or in every room the caller is a member of now (None)."""
        started = time.perf_counter()
        after = decode_cursor(cursor) if cursor is not None else None
        if room is not None:
            last_seqs = {room.id: room.last_seq}
        else:
            last_seqs = await RoomRepository(self.session).last_seqs_of(user_id)
        page = await self._page(last_seqs, q, after, limit) if last_seqs else SearchPage(items=[], next_cursor=None)
        metrics.SEARCH_LATENCY.labels("room" if room is not None else "all").observe(time.perf_counter() - started)
        return page

    async def _page(self, last_seqs: dict[int, int], q: str, after: SearchKey | None, limit: int) -> SearchPage:
        folded = fold(q)
        grams = gram_filter(query_grams(folded), folded)
        repo = MessageSearchRepository()
        rooms = sorted(last_seqs)
        hits: list[Message] = []
        scanned, batch, exhausted = 0, max(limit * 2, 50), False
        while not exhausted and len(hits) < limit and scanned < MAX_SCANNED:
            found = await repo.candidates(rooms, grams, after, batch)
            # No older candidate: this page is the last, even if it stops at its limit.
            exhausted = len(found) < batch
            for index, message in enumerate(found):
                scanned += 1
                after = SearchKey(message.created_at, message.id)  # type: ignore[arg-type]
                # Above the room's committed seq: a send whose transaction did not commit (never shown).
                if message.seq <= last_seqs[message.room_id] and folded in fold(message.content or ""):
                    hits.append(message)
                    if len(hits) == limit:
                        exhausted = exhausted and index == len(found) - 1
                        break
        next_cursor = None if exhausted or after is None else encode_cursor(after)
        return SearchPage(
            items=[SearchHit(room_id=m.room_id, message=message_out(m)) for m in hits], next_cursor=next_cursor
        )
