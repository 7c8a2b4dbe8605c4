"""Settings base shared by every service (pydantic-settings).

Nothing else in a service reads ``os.environ``: each service derives one class from
:class:`ServiceSettings`. Secrets may come from the environment or from files in ``/run/secrets``
(Docker/Kubernetes secrets), the file name being the lower-case field name.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chat_shared.standins import stand_in

SECRETS_DIR = Path("/run/secrets")
_PLACEHOLDER_MARKERS = ("changeme", "change-me", "change_me", "placeholder", "replace-me", "replace_me")
_PLACEHOLDER_VALUES = ("", "secret", "example", "xxx", "password")


class Environment(StrEnum):
    """Where a service runs; only ``development`` and ``test`` tolerate missing secrets."""

    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def is_placeholder(value: str) -> bool:
    """True for an empty value or one that is obviously an example, never a real secret."""
    lowered = value.strip().lower()
    return lowered in _PLACEHOLDER_VALUES or any(marker in lowered for marker in _PLACEHOLDER_MARKERS)


class ServiceSettings(BaseSettings):
    """Fields every service has. Subclasses add their own and list secret field names in ``secret_fields``."""

    model_config = SettingsConfigDict(
        env_file=None,
        extra="ignore",
        secrets_dir=str(SECRETS_DIR) if SECRETS_DIR.is_dir() else None,
    )

    #: Names of fields that must hold a real value outside development/test.
    secret_fields: ClassVar[tuple[str, ...]] = ()
    #: Names of fields holding a store's URL, which outside development/test must name a real server, not an
    #: in-process stand-in (:mod:`chat_shared.standins`); a service adds its own stores.
    store_url_fields: ClassVar[tuple[str, ...]] = ("database_url", "redis_url")

    service_name: str = "service"
    environment: Environment = Environment.DEVELOPMENT
    port: int = 8000
    log_level: str = "INFO"
    #: Peers whose ``X-Forwarded-For``/``-Proto`` are believed: the gateway's own addresses or networks,
    #: comma-separated (the format and variable gunicorn and uvicorn use). From any other peer the headers
    #: are ignored and the peer is the client, so no client can choose the address that per-address login
    #: throttling counts. ``*`` believes everyone: only for a network that nothing but the gateway reaches.
    forwarded_allow_ips: str = "127.0.0.1,::1"

    database_url: str = "sqlite+aiosqlite:///./.data/service.db"
    database_pool_size: int = 10
    database_max_overflow: int = 20
    run_migrations_on_start: bool = False

    redis_url: str = "redis://127.0.0.1:6379/0"
    #: Connections per process; callers beyond it wait for one (see ``chat_shared.redis.create_redis``).
    redis_max_connections: int = 64

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_enable_idempotence: bool = True
    kafka_client_id: str | None = None
    #: How long a fetch may wait for data. Real Kafka answers as soon as data arrives (long polling), so
    #: 500 ms costs no latency there and keeps idle consumers idle; the in-memory Tansu used by tests and
    #: ``make dev`` waits out the whole period, so those set 5 ms (see docs/performance.md).
    kafka_fetch_max_wait_ms: int = 500
    #: The same for consumers that only keep a local replica current (friendships, user names, presence),
    #: where tens of milliseconds of lag cost nothing; unset, ``kafka_fetch_max_wait_ms`` applies. On Tansu
    #: every group polling every 5 ms keeps an idle process busy, so those environments set this to 50.
    kafka_replica_fetch_max_wait_ms: int | None = None
    kafka_linger_ms: int = 0
    kafka_create_topics: bool = True
    kafka_topic_replication: int = 1

    jwt_issuer: str = "bigtech-chat"
    jwt_audience: str = "bigtech-chat-api"
    jwt_algorithm: str = "RS256"
    jwks_url: str = "http://127.0.0.1:8005/.well-known/jwks.json"
    #: A PEM public key (and its kid) that replaces the JWKS fetch, e.g. when the key is mounted as a secret.
    jwt_public_key: str | None = None
    jwt_public_key_id: str | None = None
    #: Lifetime of an access token: user-service signs them for this long, and every service remembers a
    #: revoked session this long (plus a clock margin), so set the same value on every service.
    access_token_ttl_s: int = 900
    #: How often each process reads new revocations from its service's Redis feed (chat_shared.revocation).
    revocation_poll_s: float = 1.0

    outbox_poll_interval_s: float = 0.5
    outbox_batch_size: int = 200

    @property
    def is_dev(self) -> bool:
        """Development and test runs may use generated keys and embedded stores."""
        return self.environment in (Environment.DEVELOPMENT, Environment.TEST)

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        # uvicorn would take a mistyped entry for a host name that never matches, silently trusting nobody.
        for entry in (part.strip() for part in value.split(",")):
            if entry and entry != "*":
                ipaddress.ip_network(entry)
        return value

    @model_validator(mode="after")
    def _require_real_secrets(self) -> ServiceSettings:
        if self.is_dev:
            return self
        missing = []
        for name in self.secret_fields:
            value: Any = getattr(self, name, None)
            if value is None or (isinstance(value, str) and is_placeholder(value)):
                missing.append(name.upper())
        if missing:
            raise ValueError(
                f"{self.service_name}: missing or placeholder secret(s) in {self.environment}: "
                + ", ".join(missing)
                + " (set the environment variable or mount /run/secrets/<name>)"
            )
        return self

    @model_validator(mode="after")
    def _require_real_stores(self) -> ServiceSettings:
        """A deployed service keeps its data in servers: a stand-in would lose it on restart, per process."""
        if self.is_dev:
            return self
        problems = []
        for name in self.store_url_fields:
            url = str(getattr(self, name, None) or "")
            kind = stand_in(url)
            if not url:
                problems.append(f"{name.upper()} is empty")
            elif kind is not None and name not in self.model_fields_set:
                problems.append(f"{name.upper()} is not set (its default is the in-process {kind} stand-in)")
            elif kind is not None:
                problems.append(f"{name.upper()} names the in-process {kind} stand-in")
        if problems:
            raise ValueError(
                f"{self.service_name}: {self.environment} needs real stores: "
                + "; ".join(problems)
                + " (set the environment variable or mount /run/secrets/<name> with the server's URL)"
            )
        return self

    def fetch_max_wait_ms(self, live: bool) -> int:
        """The fetch wait of a consumer: short for the ones a user waits on (``live``), else the replica one."""
        if live or self.kafka_replica_fetch_max_wait_ms is None:
            return self.kafka_fetch_max_wait_ms
        return self.kafka_replica_fetch_max_wait_ms

    def kafka_client(self) -> str:
        """Client id shown in broker logs and metrics."""
        return self.kafka_client_id or self.service_name
