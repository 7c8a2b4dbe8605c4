"""Schema building blocks shared by the services' APIs and the events: RFC 3339 UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer


def rfc3339(value: datetime) -> str:
    """``2026-01-27T10:00:00.000Z``."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: A datetime that serialises as RFC 3339 in UTC with milliseconds (as the API returns them).
Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]
