"""Domain events: one envelope (CONTRACT §7), payload schemas grouped by producing context."""

from chat_shared.events.envelope import EventEnvelope, new_event
from chat_shared.events.registry import EVENT_TOPICS, PAYLOADS, parse_payload
from chat_shared.events.topics import TOPICS, TopicSpec, dlq

__all__ = ["EVENT_TOPICS", "PAYLOADS", "TOPICS", "EventEnvelope", "TopicSpec", "dlq", "new_event", "parse_payload"]
