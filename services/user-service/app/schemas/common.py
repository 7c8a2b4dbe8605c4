"""Schema building blocks: closed request bodies, RFC 3339 UTC timestamps, validated fields."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ClosedModel(BaseModel):
    """A request body: unknown fields are a 422, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(_rfc3339, return_type=str)]


def _clean_text(value: str) -> str:
    value = value.strip()
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _http_url(value: str) -> str:
    value = value.strip()
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.IGNORECASE):
        raise ValueError("must be an http(s) URL")
    return value


CleanText = Annotated[str, AfterValidator(_clean_text)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
