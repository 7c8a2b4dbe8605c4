"""The typed state of a running service: what its lifespan opens, handed to every request.

Each service's lifespan builds one object of its own subclass of :class:`CoreState` and yields
:meth:`CoreState.lifespan_state`; the server copies that mapping into each request's
``scope["state"]``. Routes reach the object through ``Annotated`` dependencies (the shared ones in
:mod:`chat_shared.db`, :mod:`chat_shared.redis` and :mod:`chat_shared.auth`, a service's own in its
``app.core.state``), bare ASGI endpoints through :func:`state_in_scope`. Nothing is stored on the app.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from fastapi import Request
from starlette.types import Scope

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from chat_shared.auth import TokenVerifier
    from chat_shared.health import Readiness
    from chat_shared.outbox import Outbox
    from chat_shared.runtime import Runtime
    from chat_shared.settings import ServiceSettings

#: The one key of the lifespan's state mapping.
STATE_KEY = "service_state"

SettingsT = TypeVar("SettingsT", bound="ServiceSettings")
StateT = TypeVar("StateT", bound="CoreState[Any]")


@dataclass(frozen=True, slots=True, kw_only=True)
class CoreState(Generic[SettingsT]):
    """What every service's requests use: its settings, its runtime's stores and the token verifier."""

    settings: SettingsT
    runtime: Runtime
    verifier: TokenVerifier

    @property
    def engine(self) -> AsyncEngine:
        return self.runtime.engine

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self.runtime.sessionmaker

    @property
    def outbox(self) -> Outbox:
        return self.runtime.outbox

    @property
    def redis(self) -> Redis:
        return self.runtime.redis

    @property
    def readiness(self) -> Readiness:
        return self.runtime.readiness

    def lifespan_state(self) -> LifespanState:
        """What the lifespan yields: the server hands a copy of it to every request."""
        return {STATE_KEY: self}


#: What a service's lifespan yields.
LifespanState = Mapping[str, CoreState[Any]]


def state_in_scope(scope: Scope, kind: type[StateT]) -> StateT:
    """The service's state in a request's scope; an error if the lifespan has not run."""
    state: Mapping[str, Any] = scope.get("state") or {}
    found = state.get(STATE_KEY)
    if not isinstance(found, kind):
        raise RuntimeError(f"no {kind.__name__} in this request's scope: the app's lifespan has not run")
    return found


def core_state(request: Request) -> CoreState[ServiceSettings]:
    """The part of the state every service has (read by the shared dependencies)."""
    return state_in_scope(request.scope, CoreState)
