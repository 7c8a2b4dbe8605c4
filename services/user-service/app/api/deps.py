"""Dependencies of user-service routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.core.state import StateDep
from app.services.auth_service import AuthService
from app.services.avatar_service import AvatarService
from app.services.presence_service import Presence
from app.services.profile_service import ProfileService
from app.services.throttle import LoginThrottle
from chat_shared.db import SessionDep


async def get_auth_service(state: StateDep, session: SessionDep) -> AuthService:
    """Auth use cases bound to this request's session."""
    return AuthService(
        session=session, settings=state.settings, hasher=state.hasher, keys=state.keys, outbox=state.outbox
    )


async def get_presence(state: StateDep) -> Presence:
    """The process-wide presence tracker."""
    return state.presence


async def get_profile_service(state: StateDep, session: SessionDep) -> ProfileService:
    """Profile use cases bound to this request's session."""
    return ProfileService(session=session, presence=state.presence, outbox=state.outbox)


ProfileServiceDep = Annotated[ProfileService, Depends(get_profile_service)]


async def get_avatar_service(state: StateDep, profiles: ProfileServiceDep) -> AvatarService:
    """Avatar use cases bound to this request's profile service."""
    return AvatarService(
        profiles=profiles, store=state.store, redis=state.redis, base_url=state.settings.avatar_base_url
    )


async def get_throttle(state: StateDep) -> LoginThrottle:
    """Login throttling."""
    return LoginThrottle(state.redis, state.settings)


def client_address(request: Request) -> str:
    """The caller's address (uvicorn resolves X-Forwarded-For from trusted proxies only)."""
    return request.client.host if request.client else "unknown"


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]
AvatarServiceDep = Annotated[AvatarService, Depends(get_avatar_service)]
PresenceDep = Annotated[Presence, Depends(get_presence)]
ThrottleDep = Annotated[LoginThrottle, Depends(get_throttle)]
ClientAddress = Annotated[str, Depends(client_address)]
