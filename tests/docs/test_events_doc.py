"""docs/events/asyncapi.json is generated from the event schemas and must match them."""

from __future__ import annotations

from pathlib import Path

from chat_shared.events import TOPICS, DomainEvent
from chat_shared.events.asyncapi import render
from chat_shared.events.registry import EVENTS

DOC = Path(__file__).resolve().parents[2] / "docs" / "events" / "asyncapi.json"


def test_asyncapi_document_is_current() -> None:
    assert DOC.read_text() == render(), "regenerate: python -m chat_shared.events.asyncapi > docs/events/asyncapi.json"


def test_every_contract_event_is_documented() -> None:
    text = DOC.read_text()
    for event in EVENTS:
        assert f'"{event.event_type}"' in text
    # CONTRACT §7: user.events, user.online_status, friend.events, chat.events, message.events.
    assert len(EVENTS) == 7 + 2 + 7 + 7 + 4


def test_every_event_declares_a_known_topic_and_a_partition_key() -> None:
    for event in EVENTS:
        assert event.topic in TOPICS, event.event_type
        assert event.key is not DomainEvent.key, f"{event.event_type} declares no partition key"
