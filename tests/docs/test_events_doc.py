"""docs/events/asyncapi.json is generated from the event schemas and must match them."""

from __future__ import annotations

from pathlib import Path

from chat_shared.events.asyncapi import render
from chat_shared.events.registry import EVENT_TOPICS

DOC = Path(__file__).resolve().parents[2] / "docs" / "events" / "asyncapi.json"


def test_asyncapi_document_is_current() -> None:
    assert DOC.read_text() == render(), "regenerate: python -m chat_shared.events.asyncapi > docs/events/asyncapi.json"


def test_every_contract_event_is_documented() -> None:
    text = DOC.read_text()
    for event_type in EVENT_TOPICS:
        assert f'"{event_type}"' in text
    assert len(EVENT_TOPICS) == 2 + 2 + 7 + 4 + 4
