"""``create_app``: friend-service's FastAPI application and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from app.api import blocks, friends, internal, requests
from app.core.config import Settings
from app.core.state import State
from app.kafka.consumers import PRESENCE_GROUP, REPLICA_GROUP, REPLICA_HANDLERS, presence_handlers
from app.services.presence import PresenceReplica
from app.services.user_directory import UserDirectory
from chat_shared.app import install_common
from chat_shared.auth import build_verifier
from chat_shared.events.topics import FRIEND_EVENTS, USER_EVENTS, USER_ONLINE_STATUS
from chat_shared.health import Readiness
from chat_shared.runtime import Runtime
from chat_shared.state import LifespanState

SERVICE_DIR = Path(__file__).resolve().parent.parent


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; resources open in the lifespan, not at import."""
    settings = settings or Settings()
    readiness = Readiness(settings.service_name)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[LifespanState]:
        runtime = Runtime(settings, SERVICE_DIR, readiness)
        await runtime.migrate_if_asked()
        directory = UserDirectory.from_settings(settings)
        presence = PresenceReplica(runtime.redis, settings.presence_online_ttl_s, settings.presence_offline_ttl_s)
        state = State(
            settings=settings,
            runtime=runtime,
            verifier=build_verifier(settings, runtime.revocations),
            user_directory=directory,
            presence=presence,
        )
        runtime.consume(REPLICA_GROUP, [USER_EVENTS], REPLICA_HANDLERS)
        runtime.consume(PRESENCE_GROUP, [USER_ONLINE_STATUS], presence_handlers(presence))
        runtime.start_kafka([FRIEND_EVENTS])
        try:
            yield state.lifespan_state()
        finally:
            await runtime.close()
            await directory.close()

    app = FastAPI(
        title="BigTech Chat — friend-service",
        version="1.0.0",
        lifespan=lifespan,
        description="Friend requests, friendships and blocks (CONTRACT §4).",
    )
    install_common(app, settings, readiness)
    for router in (requests.router, friends.router, blocks.router, internal.router):
        app.include_router(router)
    return app
