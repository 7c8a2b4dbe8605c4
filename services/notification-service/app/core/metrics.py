"""notification-service's own Prometheus metrics (see docs/notification-service.md)."""

from prometheus_client import Counter, Histogram

SUBSCRIPTIONS = Counter(
    "notification_subscriptions_total", "Subscriptions created and deleted", ["type", "action"]
)  # webpush|fcm × created|deleted|gone (the push service said it no longer exists)
DECISIONS = Counter(
    "notification_decisions_total",
    "Per member of a room on each MessageSent: why a push was or was not made",
    ["result"],
)  # queued|collapsed|online|muted|not_mentioned|notify_none|blocked|no_subscription
PUSHES = Counter(
    "notification_pushes_total", "Push requests by channel, push service host and result", ["channel", "host", "result"]
)  # result: sent|gone|retry|failed
PUSH_DURATION = Histogram(
    "notification_push_duration_seconds",
    "Time of one request to a push service",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PUSH_DELAY = Histogram(
    "notification_push_delay_seconds",
    "From the message being sent to its push being accepted by the push service (collapsed pushes included)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 300),
)
MAILS = Counter("notification_mails_total", "Mails by kind and result", ["kind", "result"])  # sent|retry|failed
