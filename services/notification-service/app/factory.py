"""``create_app``: notification-service's FastAPI application and its lifespan."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import structlog
from fastapi import FastAPI

from app.api import preferences, subscriptions
from app.core.config import Settings
from app.core.state import State
from app.kafka.consumers import PRESENCE_GROUP, PUSH_GROUP, REPLICA_GROUP, push_handlers, replica_handlers
from app.models.delivery import Mail, Push
from app.services.fcm import Fcm, ServiceAccount
from app.services.mail_dispatcher import MailDispatcher
from app.services.planner import PushPlanner
from app.services.push_dispatcher import PushDispatcher
from app.services.webpush import WebPush, generate_vapid_pem
from chat_shared.app import install_common
from chat_shared.auth import build_verifier
from chat_shared.events.topics import CHAT_EVENTS, FRIEND_EVENTS, MESSAGE_EVENTS, USER_EVENTS, USER_ONLINE_STATUS
from chat_shared.health import Readiness
from chat_shared.mail.client import Mailer
from chat_shared.presence import PresenceReplica, presence_handlers
from chat_shared.runtime import Runtime
from chat_shared.state import LifespanState

SERVICE_DIR = Path(__file__).resolve().parent.parent
log = structlog.get_logger("notification.factory")


def vapid_key(settings: Settings) -> bytes:
    """The VAPID private key: the configured file, or (development and tests only) a key made now."""
    pem = settings.vapid_pem()
    if pem is not None:
        return pem
    log.warning("vapid_key_generated", reason="VAPID_PRIVATE_KEY_FILE is not set; subscriptions end with the process")
    return generate_vapid_pem()


def push_client(settings: Settings) -> httpx.AsyncClient:
    """The HTTP client of every push service and FCM: bounded time and connections, no proxies from the
    environment, no redirects (a push service never redirects; following one would fetch a URL no one
    checked)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.push_timeout_s, connect=min(5.0, settings.push_timeout_s)),
        limits=httpx.Limits(
            max_connections=settings.push_concurrency, max_keepalive_connections=settings.push_concurrency
        ),
        follow_redirects=False,
        trust_env=False,
    )


def create_app(settings: Settings | None = None, clock: Callable[[], float] = time.time) -> FastAPI:
    """Build the app; resources open in the lifespan, not at import. ``clock`` (epoch seconds) is the time
    the collapse windows and the queues' due times are read on."""
    settings = settings or Settings()
    readiness = Readiness(settings.service_name)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[LifespanState]:
        runtime = Runtime(settings, SERVICE_DIR, readiness)
        await runtime.migrate_if_asked()
        client = push_client(settings)
        presence = PresenceReplica(
            runtime.redis, "notif:presence:", settings.presence_online_ttl_s, settings.presence_offline_ttl_s
        )
        webpush = WebPush(vapid_key(settings), settings.vapid_subject, settings.push_ttl_s, client, clock)
        account = ServiceAccount.from_file(settings.fcm_credentials_file) if settings.fcm_credentials_file else None
        fcm = Fcm(account, settings.fcm_base_url, client, clock)
        common: dict[str, Any] = {
            "poll_s": settings.dispatch_poll_s,
            "claim_timeout_s": settings.dispatch_claim_timeout_s,
            "backoff_s": settings.push_backoff_s,
            "backoff_max_s": settings.push_backoff_max_s,
            "clock": clock,
        }
        pushes = PushDispatcher(
            runtime.sessionmaker,
            Push,
            concurrency=settings.push_concurrency,
            per_host=settings.push_concurrency_per_host,
            batch=settings.dispatch_batch,
            max_attempts=settings.push_max_attempts,
            webpush=webpush,
            fcm=fcm,
            redis=runtime.redis,
            window_s=settings.collapse_window_s,
            **common,
        )
        mails = MailDispatcher(
            runtime.sessionmaker,
            Mail,
            concurrency=4,
            per_host=4,
            batch=50,
            max_attempts=settings.mail_max_attempts,
            mailer=Mailer(settings),
            **common,
        )
        planner = PushPlanner(settings, runtime.redis, presence, clock)
        state = State(
            settings=settings,
            runtime=runtime,
            verifier=build_verifier(settings, runtime.revocations),
            presence=presence,
            webpush=webpush,
            planner=planner,
            pushes=pushes,
            mails=mails,
        )
        runtime.consume(REPLICA_GROUP, [USER_EVENTS, CHAT_EVENTS, FRIEND_EVENTS], replica_handlers(clock))
        runtime.consume(PRESENCE_GROUP, [USER_ONLINE_STATUS], presence_handlers(presence))
        runtime.consume(PUSH_GROUP, [MESSAGE_EVENTS], push_handlers(planner), live=True)
        runtime.spawn(pushes.run(), "push-dispatcher")
        runtime.spawn(mails.run(), "mail-dispatcher")
        runtime.start_kafka([])
        try:
            yield state.lifespan_state()
        finally:
            await runtime.close()
            await client.aclose()

    app = FastAPI(
        title="BigTech Chat — notification-service",
        version="1.0.0",
        lifespan=lifespan,
        description="Web Push, FCM and e-mail for people who are not looking (CONTRACT §10).",
    )
    install_common(app, settings, readiness)
    for router in (subscriptions.router, preferences.router):
        app.include_router(router)
    return app
