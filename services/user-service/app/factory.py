"""``create_app``: user-service's FastAPI application and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from app.api import auth, avatars, jwks, presence, profile, users
from app.core.config import Settings
from app.core.keys import load_keyring
from app.core.passwords import PasswordHasher
from app.core.state import State
from app.services.presence_service import Presence
from chat_shared.app import install_common
from chat_shared.auth import StaticKeys, TokenVerifier
from chat_shared.events.topics import USER_EVENTS, USER_ONLINE_STATUS
from chat_shared.health import Readiness
from chat_shared.runtime import Runtime
from chat_shared.state import LifespanState
from chat_shared.storage import ObjectStore

SERVICE_DIR = Path(__file__).resolve().parent.parent


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; resources open in the lifespan, not at import."""
    settings = settings or Settings()
    readiness = Readiness(settings.service_name)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[LifespanState]:
        runtime = Runtime(settings, SERVICE_DIR, readiness)
        await runtime.migrate_if_asked()
        keys = load_keyring(settings)
        verifier = TokenVerifier(
            StaticKeys(keys.public_jwks),
            settings.jwt_algorithm,
            settings.jwt_issuer,
            settings.jwt_audience,
            revocations=runtime.revocations,
        )
        hasher = PasswordHasher(settings)
        presence = Presence(runtime.redis, settings.presence_ttl_s)
        store = await ObjectStore(settings).open()
        state = State(
            settings=settings,
            runtime=runtime,
            verifier=verifier,
            keys=keys,
            hasher=hasher,
            presence=presence,
            store=store,
        )
        runtime.start_kafka([USER_EVENTS, USER_ONLINE_STATUS])
        runtime.spawn(
            presence.run_sweeper(runtime.sessionmaker, runtime.outbox, settings.presence_sweep_interval_s),
            "presence-sweeper",
        )
        try:
            yield state.lifespan_state()
        finally:
            await runtime.close()
            hasher.close()
            await store.close()

    app = FastAPI(
        title="BigTech Chat — user-service",
        version="1.0.0",
        lifespan=lifespan,
        description="Accounts, tokens, profiles and presence (CONTRACT §3).",
    )
    install_common(app, settings, readiness)
    # The avatar pictures' path comes before ``/users/{user_id}``, which would take "avatars" for an id.
    for router in (
        auth.router,
        profile.router,
        avatars.router,
        avatars.pictures,
        users.router,
        presence.router,
        jwks.router,
    ):
        app.include_router(router)
    return app
