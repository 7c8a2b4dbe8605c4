"""``create_app``: chat-service's FastAPI application and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.routing import Route

from app.api import messages, rooms, stream
from app.core.config import Settings
from app.database import mongo
from app.kafka.consumers import (
    FANOUT_GROUP,
    PERMISSION_HANDLERS,
    PERMISSIONS_GROUP,
    USER_HANDLERS,
    USERS_GROUP,
    FanOut,
)
from app.services.message_service import AlreadySent
from app.stream import shutdown
from app.stream.endpoint import StreamEndpoint
from app.stream.hub import StreamHub
from app.stream.log import UserLog
from app.stream.tickets import TicketStore
from chat_shared.app import install_common
from chat_shared.auth import build_verifier
from chat_shared.events.topics import CHAT_EVENTS, FRIEND_EVENTS, MESSAGE_EVENTS, USER_EVENTS
from chat_shared.runtime import Runtime, attach_verifier

SERVICE_DIR = Path(__file__).resolve().parent.parent


async def _already_sent(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AlreadySent)
    return JSONResponse(exc.message.model_dump(mode="json"), status_code=200)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; resources open in the lifespan, not at import."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(app, settings, SERVICE_DIR)
        await runtime.migrate_if_asked()
        redis = runtime.open_redis()
        client = await mongo.init_mongo(settings.mongo_url, settings.mongo_db)
        attach_verifier(app, build_verifier(settings))
        user_log = UserLog(redis, settings.user_stream_maxlen, settings.user_stream_ttl_s)
        app.state.tickets = TicketStore(redis, settings.stream_ticket_ttl_s)
        app.state.hub = hub = StreamHub(redis, user_log, settings.sse_heartbeat_s, settings.sse_max_lifetime_s)
        await hub.start()
        shutdown.watch(hub)
        runtime.readiness.add("mongo", lambda: mongo.ping(client, settings.mongo_db))
        runtime.consume(PERMISSIONS_GROUP, [FRIEND_EVENTS], PERMISSION_HANDLERS)
        runtime.consume(USERS_GROUP, [USER_EVENTS], USER_HANDLERS)
        # The fan-out dedupes by event id in Redis for the topics' retention: no processed-events rows needed.
        fanout = FanOut(user_log)
        runtime.consume(
            FANOUT_GROUP,
            [MESSAGE_EVENTS, CHAT_EVENTS],
            fanout.handlers(),
            track_processed=False,
            live=True,
            hooks=fanout,
        )
        runtime.start_kafka([CHAT_EVENTS, MESSAGE_EVENTS])
        try:
            yield
        finally:
            shutdown.forget(hub)
            await hub.stop()
            await runtime.close()
            mongo.close_mongo_client(client)

    app = FastAPI(
        title="BigTech Chat — chat-service",
        version="1.0.0",
        lifespan=lifespan,
        description="Rooms, messages and the live stream (CONTRACT §5–6).",
    )
    app.state.settings = settings
    install_common(app, settings)
    app.add_exception_handler(AlreadySent, _already_sent)
    for router in (rooms.router, messages.router, stream.router):
        app.include_router(router)
    app.router.routes.append(Route("/stream", StreamEndpoint(app.state), methods=["GET"]))
    return app
