"""Generate the AsyncAPI document of every topic and event from the schemas in this package.

``python -m chat_shared.events.asyncapi > docs/events/asyncapi.json``; a test fails when the
committed document and the code disagree, so the docs cannot drift from the events.
"""

from __future__ import annotations

import json
from typing import Any

from chat_shared.events.envelope import EventEnvelope
from chat_shared.events.registry import EVENTS, events_on
from chat_shared.events.topics import TOPICS, dlq

_REF = "#/components/schemas/{model}"


def document() -> dict[str, Any]:
    """The AsyncAPI 2.6 document as a dict."""
    channels: dict[str, Any] = {}
    for name, spec in TOPICS.items():
        events = [e.event_type for e in events_on(name)]
        channels[name] = {
            "description": f"{spec.partitions} partitions, retention {spec.retention_ms // 3_600_000} h, "
            f"key: {spec.key}. Dead letters go to {dlq(name)}.",
            "subscribe": {"message": {"oneOf": [{"$ref": f"#/components/messages/{e}"} for e in events]}},
        }
    messages = {}
    schemas: dict[str, Any] = {"EventEnvelope": EventEnvelope.model_json_schema()}
    for model in EVENTS:
        event_type = model.event_type
        schema = model.model_json_schema(ref_template=_REF)
        # Nested models (the message snapshot) become shared components, referenced from the document root.
        schemas.update(schema.pop("$defs", {}))
        schemas[event_type] = schema
        messages[event_type] = {
            "name": event_type,
            "summary": (model.__doc__ or "").strip().splitlines()[0],
            "contentType": "application/json",
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/EventEnvelope"},
                    {
                        "properties": {
                            "event_type": {"const": event_type},
                            "payload": {"$ref": f"#/components/schemas/{event_type}"},
                        }
                    },
                ]
            },
        }
    return {
        "asyncapi": "2.6.0",
        "info": {
            "title": "BigTech Chat domain events",
            "version": "1.0.0",
            "description": "Every event travels in one envelope (CONTRACT §7), published through a "
            "transactional outbox with acks=all; consumers are idempotent by event_id.",
        },
        "channels": channels,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    """The document as stable, pretty JSON."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
