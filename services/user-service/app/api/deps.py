"""Dependencies of user-service routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.core.config import Settings
from app.services.auth_service import AuthService
from app.services.presence_service import Presence
from app.services.profile_service import ProfileService
from app.services.throttle import LoginThrottle
from chat_shared.db import SessionDep
from chat_shared.redis import RedisDep


def get_auth_service(request: Request, session: SessionDep) -> AuthService:
    """Auth use cases bound to this request's session."""
    state = request.app.state
    return AuthService(
        session=session, settings=state.settings, hasher=state.hasher, keys=state.keys, outbox=state.outbox
    )


def get_presence(request: Request) -> Presence:
    """The process-wide presence tracker."""
    presence: Presence = request.app.state.presence
    return presence


def get_profile_service(request: Request, session: SessionDep) -> ProfileService:
    """Profile use cases bound to this request's session."""
    return ProfileService(session=session, presence=request.app.state.presence, outbox=request.app.state.outbox)


def get_throttle(request: Request, redis: RedisDep) -> LoginThrottle:
    """Login throttling."""
    settings: Settings = request.app.state.settings
    return LoginThrottle(redis, settings)


def client_address(request: Request) -> str:
    """The caller's address (uvicorn resolves X-Forwarded-For from trusted proxies only)."""
    return request.client.host if request.client else "unknown"


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]
ProfileServiceDep = Annotated[ProfileService, Depends(get_profile_service)]
PresenceDep = Annotated[Presence, Depends(get_presence)]
ThrottleDep = Annotated[LoginThrottle, Depends(get_throttle)]
ClientAddress = Annotated[str, Depends(client_address)]
