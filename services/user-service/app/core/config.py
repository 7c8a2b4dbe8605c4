"""user-service settings."""

from __future__ import annotations

from typing import ClassVar

from chat_shared.storage import ObjectStoreSettings


class Settings(ObjectStoreSettings):
    """Everything user-service reads from the environment (or /run/secrets)."""

    secret_fields: ClassVar[tuple[str, ...]] = (*ObjectStoreSettings.secret_fields, "jwt_private_key", "database_url")

    service_name: str = "user-service"
    port: int = 8005
    database_url: str = "sqlite+aiosqlite:///./.data/user.db"
    redis_url: str = "redis://127.0.0.1:6379/0"

    #: PEM private key signing access tokens; generated into ``dev_key_file`` in development when unset.
    jwt_private_key: str | None = None
    jwt_key_id: str | None = None
    #: The previous key's public half, kept valid during a rotation so nobody is logged out.
    jwt_previous_public_key: str | None = None
    jwt_previous_key_id: str | None = None
    dev_key_file: str = ".data/keys/user-service-jwt.pem"
    refresh_token_ttl_s: int = 30 * 24 * 3600

    #: Argon2id cost (OWASP minimum: m=19 MiB, t=2, p=1).
    argon2_memory_kib: int = 19 * 1024
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    #: Threads hashing passwords at once, and how many more requests may wait for them before new ones are
    #: refused with 503: a waiting request costs up to queue/threads hash times (~3 × 25 ms here).
    hash_threads: int = 2
    hash_queue_limit: int = 6

    #: What ``avatar_url`` starts with: this service's avatar route as clients reach it (through the gateway).
    avatar_base_url: str = "http://localhost:8000/api/users/avatars"

    presence_ttl_s: int = 60
    presence_sweep_interval_s: float = 2.0

    #: Password guesses (failed logins, wrong current passwords), counted in fixed windows of
    #: ``login_failure_window_s``; the rules are in docs/user-service.md ("Throttling").
    login_failure_window_s: int = 900
    #: Failures of one address against one account before that address is refused for that account.
    login_max_failures_per_account_address: int = 5
    #: Failures of one address against any accounts before it is refused everywhere.
    login_max_failures_per_address: int = 20
    #: Failures against one account from all addresses before addresses that have failed against it (and
    #: have not logged into it) are refused; addresses with no failures there still get through.
    login_max_failures_per_account: int = 50
    #: How long an address that logged into an account stays exempt from that account's ceiling.
    login_known_address_ttl_s: int = 30 * 24 * 3600
