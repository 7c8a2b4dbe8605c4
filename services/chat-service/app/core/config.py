"""chat-service settings."""

from __future__ import annotations

from typing import ClassVar

from chat_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """Everything chat-service reads from the environment (or /run/secrets)."""

    secret_fields: ClassVar[tuple[str, ...]] = ("database_url",)
    store_url_fields: ClassVar[tuple[str, ...]] = (*ServiceSettings.store_url_fields, "mongo_url")

    service_name: str = "chat-service"
    port: int = 8002
    database_url: str = "sqlite+aiosqlite:///./.data/chat.db"
    redis_url: str = "redis://127.0.0.1:6379/1"
    #: ``mongodb://…`` for a real MongoDB; ``mongomock://`` selects the in-process mongomock-motor
    #: (development and tests only: a deployed service refuses it, and refuses to start without MONGO_URL).
    mongo_url: str = "mongomock://"
    mongo_db: str = "chat"

    #: friend-service, asked (``GET /internal/relationships``) only to confirm a refusal of the local
    #: permission replica, which may not have heard of a friendship accepted a moment ago.
    friend_service_url: str = "http://127.0.0.1:8003"
    friend_check_timeout_s: float = 1.0
    #: Consecutive failures that open the circuit, and how long it then stays open.
    friend_check_failure_threshold: int = 5
    friend_check_open_s: float = 10.0

    group_max_members: int = 100
    message_max_chars: int = 4000

    #: Live stream (CONTRACT §6).
    sse_heartbeat_s: float = 15.0
    sse_max_lifetime_s: float = 3600.0
    #: Open streams per user, across processes; a newer one closes the oldest.
    sse_max_streams_per_user: int = 10
    stream_ticket_ttl_s: int = 300
    #: The live log in Redis (memory budget: docs/chat-service.md, "Live log memory"): entries a user's log
    #: keeps, how long an event is kept, how many event bodies are kept at most, and how long an event id
    #: stays claimed against redelivery.
    user_stream_maxlen: int = 1000
    user_stream_ttl_s: int = 24 * 3600
    live_log_max_events: int = 100_000
    fanout_dedupe_ttl_s: int = 15 * 60
    #: A presence change older than this when the consumer reads it is not announced on the stream.
    presence_max_age_s: float = 60.0
