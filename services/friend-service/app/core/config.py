"""friend-service settings."""

from __future__ import annotations

from typing import ClassVar

from chat_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """Everything friend-service reads from the environment (or /run/secrets)."""

    secret_fields: ClassVar[tuple[str, ...]] = ("database_url",)

    service_name: str = "friend-service"
    port: int = 8003
    database_url: str = "sqlite+aiosqlite:///./.data/friend.db"
    redis_url: str = "redis://127.0.0.1:6379/0"

    #: user-service, asked (``GET /users?ids=``) only when the local replica does not know a user yet.
    user_service_url: str = "http://127.0.0.1:8005"
    user_lookup_timeout_s: float = 2.0
    #: Consecutive failures that open the circuit, and how long it then stays open.
    user_lookup_failure_threshold: int = 5
    user_lookup_open_s: float = 10.0

    #: Presence replica (from ``user.online_status`` transitions): an online mark is kept until the
    #: matching ``UserOffline`` or this safety TTL; an offline mark only has to outlive reordering.
    presence_online_ttl_s: int = 24 * 3600
    presence_offline_ttl_s: int = 3600
