"""Schema building blocks every service's API uses: closed request bodies, RFC 3339 UTC timestamps and
the range of a database id and of a message sequence number."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


class ClosedModel(BaseModel):
    """A request body: unknown fields and values of another JSON type (``"5"`` or ``true`` for a number)
    are a 422, never silently ignored or converted."""

    model_config = ConfigDict(extra="forbid", strict=True)


def rfc3339(value: datetime) -> str:
    """``2026-01-27T10:00:00.000Z``: UTC, millisecond precision, as every response renders time."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]

#: One past the largest value a signed BIGINT (and a BSON int64) holds.
ID_LIMIT = 2**63

# An id as the database stores it (a signed BIGINT, chat_shared.db.BigId) and hands it out: 1 and up. Every
# id a route takes, in its path, query or body, has this type, so a value no row can have is a 422 rather
# than an overflow inside the query.
Id = Annotated[int, Field(gt=0, lt=ID_LIMIT)]

# A position in a room's message sequence: 0 is "before the first message".
Seq = Annotated[int, Field(ge=0, lt=ID_LIMIT)]


def is_id(value: int) -> bool:
    """Whether ``value`` is in the range of :data:`Id` (for ids parsed by hand, e.g. from a list)."""
    return 0 < value < ID_LIMIT
