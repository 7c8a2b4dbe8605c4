"""The event envelope every topic carries (CONTRACT §7)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chat_shared import tracing
from chat_shared.events.base import DomainEvent


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

    @classmethod
    def of(cls, event: DomainEvent, producer: str) -> EventEnvelope:
        """Wrap ``event`` (its class names the type and version) in an envelope correlated with the current
        request."""
        return cls(
            event_type=event.event_type,
            event_version=event.version,
            producer=producer,
            correlation_id=tracing.request_id_var.get(),
            payload=event.model_dump(mode="json"),
        )
