"""chat-service's own Prometheus metrics (names are part of the dashboards; see docs/chat-service.md)."""

from prometheus_client import Counter, Gauge, Histogram

ROOMS_CREATED = Counter("chat_rooms_created_total", "Rooms created", ["type"])
MESSAGES_SENT = Counter("chat_messages_sent_total", "Messages accepted (201)", ["message_type"])
SSE_OPEN = Gauge("chat_sse_streams_open", "Open SSE streams", multiprocess_mode="livesum")
SSE_OPENED = Counter("chat_sse_streams_opened_total", "SSE streams opened")
SSE_CLOSED = Counter("chat_sse_streams_closed_total", "SSE streams closed by reason", ["reason"])
SSE_DELIVERED = Counter("chat_sse_events_delivered_total", "Events written to SSE streams", ["event"])
DELIVERY_LATENCY = Histogram(
    "chat_message_delivery_latency_seconds",
    "Send committed → message written to a subscriber's stream (live deliveries only)",
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SSE_REPLAYED = Counter("chat_sse_replayed_events_total", "Events replayed after Last-Event-ID")
SSE_RESETS = Counter(
    "chat_sse_resets_total", "reset events sent (Last-Event-ID no longer retained, or events dropped from a full Redis)"
)
PERMISSION_CONFIRMS = Counter(
    "chat_permission_confirms_total",
    "Refusals of the permission replica confirmed with friend-service, by outcome",
    ["result"],
)  # granted|refused|error|circuit_open
EPHEMERAL_DELIVERED = Counter(
    "chat_ephemeral_events_delivered_total",
    "Ephemeral events (typing, presence.updated) written to SSE streams; never stored nor replayed",
    ["event"],
)
EPHEMERAL_PUBLISHED = Counter(
    "chat_ephemeral_events_published_total",
    "Ephemeral events published to every process (a typing call within the debounce window publishes none)",
    ["event"],
)
PRESENCE_STALE = Counter(
    "chat_presence_stale_total", "Presence changes too old to announce when the consumer read them (skipped)"
)
