"""Schema building blocks: closed request bodies and RFC 3339 UTC timestamps (as in user-service)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer


class ClosedModel(BaseModel):
    """A request body: unknown fields are a 422, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


def rfc3339(value: datetime) -> str:
    """``2026-01-27T10:00:00.000Z``."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]
