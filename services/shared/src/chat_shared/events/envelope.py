"""The event envelope every topic carries (CONTRACT §7)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chat_shared import tracing


class EventEnvelope(BaseModel):
    """``{event_id, event_type, event_version, occurred_at, producer, correlation_id, payload}``."""

    model_config = ConfigDict(extra="forbid")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str
    event_version: int = 1
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    producer: str
    correlation_id: str | None = None
    payload: dict[str, Any]


def new_event(event_type: str, payload: BaseModel, producer: str, version: int = 1) -> EventEnvelope:
    """Wrap a payload model in an envelope correlated with the current request."""
    return EventEnvelope(
        event_type=event_type,
        event_version=version,
        producer=producer,
        correlation_id=tracing.request_id_var.get(),
        payload=payload.model_dump(mode="json"),
    )
