"""notification-service settings."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from chat_shared.mail.client import MailSettings

#: The push services of today's browsers (host, or ``.suffix`` for any host under it).
BROWSER_PUSH_HOSTS = (
    "fcm.googleapis.com",  # Chrome, Edge (Chromium), Opera, Samsung Internet
    "updates.push.services.mozilla.com",  # Firefox
    ".push.apple.com",  # Safari (web.push.apple.com)
    ".notify.windows.com",  # legacy Edge (WNS)
)


class Settings(MailSettings):
    """Everything notification-service reads from the environment (or /run/secrets)."""

    secret_fields: ClassVar[tuple[str, ...]] = ("database_url", "vapid_private_key_file")

    service_name: str = "notification-service"
    port: int = 8004
    database_url: str = "sqlite+aiosqlite:///./.data/notification.db"
    redis_url: str = "redis://127.0.0.1:6379/0"

    #: The VAPID key pair (RFC 8292): a PEM file of the P-256 private key (its public key is served to
    #: browsers). ``make dev`` generates one under ``.data/keys``; deployments mount a Secret.
    vapid_private_key_file: str | None = None
    #: The ``sub`` claim of the VAPID token: how a push service reaches the operator.
    vapid_subject: str = "mailto:ops@bigtech.chat"
    #: Hosts a Web Push endpoint may name, comma-separated (exact, or ``.suffix``); always https.
    push_allowed_hosts: str = ",".join(BROWSER_PUSH_HOSTS)
    #: Also accept ``http(s)://127.0.0.1|localhost|[::1]`` endpoints: ``make dev`` and the tests only.
    push_allow_loopback: bool = False

    #: FCM HTTP v1: a service-account JSON (``project_id``, ``client_email``, ``private_key``, ``token_uri``).
    fcm_credentials_file: str | None = None
    fcm_base_url: str = "https://fcm.googleapis.com"

    subscriptions_per_user: int = 20
    #: Pushes to one user for one room: at most one per window.
    collapse_window_s: float = 10.0
    preview_chars: int = 100
    #: Time to live a push service keeps an undelivered push (RFC 8030 ``TTL``).
    push_ttl_s: int = 24 * 3600
    push_timeout_s: float = 10.0
    #: Concurrent requests to one push service (one host), and in all.
    push_concurrency_per_host: int = 64
    push_concurrency: int = 512
    push_max_attempts: int = 8
    push_backoff_s: float = 1.0
    push_backoff_max_s: float = 300.0
    #: How often the dispatcher looks for due pushes when nothing wakes it.
    dispatch_poll_s: float = 0.2
    dispatch_batch: int = 500
    #: A push claimed by a process that died is offered again after this long.
    dispatch_claim_timeout_s: float = 60.0
    mail_max_attempts: int = 10

    presence_online_ttl_s: int = 24 * 3600
    presence_offline_ttl_s: int = 3600

    @property
    def allowed_push_hosts(self) -> tuple[str, ...]:
        """:attr:`push_allowed_hosts` as a tuple of lower-case entries."""
        return tuple(h.strip().lower() for h in self.push_allowed_hosts.split(",") if h.strip())

    def vapid_pem(self) -> bytes | None:
        """The VAPID private key's PEM, read from its file."""
        return Path(self.vapid_private_key_file).read_bytes() if self.vapid_private_key_file else None
