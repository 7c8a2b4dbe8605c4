"""Schema building blocks every service's API uses: closed request bodies, RFC 3339 UTC timestamps and
the range of a database id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


class ClosedModel(BaseModel):
    """A request body: unknown fields are a 422, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


def rfc3339(value: datetime) -> str:
    """``2026-01-27T10:00:00.000Z``: UTC, millisecond precision, as every response renders time."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]

# An id as the database stores it (a signed BIGINT, chat_shared.db.BigId) and hands it out: 1 and up.
# Larger values are a 422 rather than an overflow inside the query.
Id = Annotated[int, Field(gt=0, lt=2**63)]
