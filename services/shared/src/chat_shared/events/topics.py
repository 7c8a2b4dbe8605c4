"""Kafka topics of CONTRACT §7, in one place for producers, consumers, topic creation and docs."""

from __future__ import annotations

from dataclasses import dataclass

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

USER_EVENTS = "user.events"
USER_ONLINE_STATUS = "user.online_status"
FRIEND_EVENTS = "friend.events"
CHAT_EVENTS = "chat.events"
MESSAGE_EVENTS = "message.events"


@dataclass(frozen=True)
class TopicSpec:
    """A topic's name, partition count and retention."""

    name: str
    partitions: int
    retention_ms: int
    key: str


TOPICS: dict[str, TopicSpec] = {
    spec.name: spec
    for spec in (
        TopicSpec(USER_EVENTS, 3, 7 * DAY_MS, "user_id"),
        TopicSpec(USER_ONLINE_STATUS, 6, HOUR_MS, "user_id"),
        TopicSpec(FRIEND_EVENTS, 3, 7 * DAY_MS, "lower user id of the pair"),
        TopicSpec(CHAT_EVENTS, 3, 7 * DAY_MS, "room_id"),
        TopicSpec(MESSAGE_EVENTS, 10, 7 * DAY_MS, "room_id"),
    )
}


def dlq(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return f"{topic}.dlq"


DLQ_RETENTION_MS = 14 * DAY_MS
DLQ_PARTITIONS = 3
