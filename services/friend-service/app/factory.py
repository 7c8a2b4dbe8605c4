"""``create_app``: friend-service's FastAPI application and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from app.api import blocks, friends, requests
from app.core.config import Settings
from app.kafka.consumers import PRESENCE_GROUP, REPLICA_GROUP, REPLICA_HANDLERS, presence_handlers
from app.services.presence import PresenceReplica
from app.services.user_directory import UserDirectory
from chat_shared.app import install_common
from chat_shared.auth import build_verifier
from chat_shared.events.topics import FRIEND_EVENTS, USER_EVENTS, USER_ONLINE_STATUS
from chat_shared.runtime import Runtime, attach_verifier

SERVICE_DIR = Path(__file__).resolve().parent.parent


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; resources open in the lifespan, not at import."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(app, settings, SERVICE_DIR)
        await runtime.migrate_if_asked()
        redis = runtime.open_redis()
        attach_verifier(app, build_verifier(settings))
        app.state.user_directory = directory = UserDirectory.from_settings(settings)
        app.state.presence = presence = PresenceReplica(
            redis, settings.presence_online_ttl_s, settings.presence_offline_ttl_s
        )
        runtime.consume(REPLICA_GROUP, [USER_EVENTS], REPLICA_HANDLERS)
        runtime.consume(PRESENCE_GROUP, [USER_ONLINE_STATUS], presence_handlers(presence))
        runtime.start_kafka([FRIEND_EVENTS])
        try:
            yield
        finally:
            await runtime.close()
            await directory.close()

    app = FastAPI(
        title="BigTech Chat — friend-service",
        version="1.0.0",
        lifespan=lifespan,
        description="Friend requests, friendships and blocks (CONTRACT §4).",
    )
    app.state.settings = settings
    install_common(app, settings)
    for router in (requests.router, friends.router, blocks.router):
        app.include_router(router)
    return app
