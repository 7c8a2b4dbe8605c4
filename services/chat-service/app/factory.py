"""``create_app``: chat-service's FastAPI application and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.routing import Route

from app.api import membership, messages, moderation, rooms, stream
from app.core.config import Settings
from app.core.state import State
from app.database import mongo
from app.kafka.consumers import (
    FANOUT_GROUP,
    PERMISSION_HANDLERS,
    PERMISSIONS_GROUP,
    USER_HANDLERS,
    USERS_GROUP,
    FanOut,
)
from app.kafka.presence import PRESENCE_GROUP, PresenceRelay
from app.services.friend_directory import FriendDirectory
from app.stream import shutdown
from app.stream.endpoint import StreamEndpoint
from app.stream.ephemeral import EphemeralBus
from app.stream.hub import StreamHub
from app.stream.limits import StreamLimit
from app.stream.log import UserLog
from app.stream.tickets import TicketStore
from chat_shared.app import install_common
from chat_shared.auth import build_verifier
from chat_shared.events.topics import CHAT_EVENTS, FRIEND_EVENTS, MESSAGE_EVENTS, USER_EVENTS, USER_ONLINE_STATUS
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
        redis = runtime.redis
        client = await mongo.init_mongo(settings.mongo_url, settings.mongo_db)
        user_log = UserLog(
            redis,
            maxlen=settings.user_stream_maxlen,
            ttl_s=settings.user_stream_ttl_s,
            max_events=settings.live_log_max_events,
            dedupe_ttl_s=settings.fanout_dedupe_ttl_s,
        )
        max_streams = settings.sse_max_streams_per_user
        hub = StreamHub(
            redis,
            user_log,
            settings.sse_heartbeat_s,
            settings.sse_max_lifetime_s,
            max_streams=max_streams,
            limit=StreamLimit(redis, max_streams, settings.sse_max_lifetime_s),
        )
        state = State(
            settings=settings,
            runtime=runtime,
            verifier=build_verifier(settings, runtime.revocations),
            tickets=TicketStore(redis, runtime.revocations, settings.stream_ticket_ttl_s),
            hub=hub,
            ephemeral=EphemeralBus(redis, hub),
            friend_directory=FriendDirectory.from_settings(settings),
        )
        await hub.start()
        await state.ephemeral.start()
        # A revoked session's streams end on every process: each process's revocation mirror tells its hub.
        runtime.revocations.on_revoked(hub.close_sessions)
        shutdown.watch(hub)
        runtime.readiness.add("mongo", lambda: mongo.ping(client, settings.mongo_db))
        # Up once the hub's Redis subscription is confirmed: until then no wake-up reaches a stream here.
        runtime.readiness.add("stream", hub.ready_check)
        runtime.consume(PERMISSIONS_GROUP, [FRIEND_EVENTS], PERMISSION_HANDLERS)
        runtime.consume(USERS_GROUP, [USER_EVENTS], USER_HANDLERS)
        # Presence is ephemeral: a redelivered change is announced again, harmlessly, so nothing is recorded.
        presence = PresenceRelay(state.ephemeral, settings.presence_max_age_s)
        runtime.consume(PRESENCE_GROUP, [USER_ONLINE_STATUS], presence.handlers(), track_processed=False, live=True)
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
            yield state.lifespan_state()
        finally:
            shutdown.forget(hub)
            await state.ephemeral.stop()
            await hub.stop()
            await runtime.close()
            await state.friend_directory.close()
            mongo.close_mongo_client(client)

    app = FastAPI(
        title="BigTech Chat — chat-service",
        version="1.0.0",
        lifespan=lifespan,
        description="Rooms, messages and the live stream (CONTRACT §5–6).",
    )
    install_common(app, settings, readiness)
    # rooms before moderation: ``DELETE /rooms/{id}/members/me`` is matched before ``…/members/{user_id}``.
    for router in (rooms.router, moderation.router, membership.router, messages.router, stream.router):
        app.include_router(router)
    app.router.routes.append(Route("/stream", StreamEndpoint(), methods=["GET"]))
    return app
