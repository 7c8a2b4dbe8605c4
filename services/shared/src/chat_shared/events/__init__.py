"""Domain events: one envelope (CONTRACT §7), one class per event type grouped by producing context."""

from chat_shared.events.base import DomainEvent
from chat_shared.events.envelope import EventEnvelope
from chat_shared.events.topics import TOPICS, TopicSpec, dlq

__all__ = ["TOPICS", "DomainEvent", "EventEnvelope", "TopicSpec", "dlq"]
