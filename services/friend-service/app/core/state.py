"""friend-service's state: what its lifespan opens for requests, reached through :data:`StateDep`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.core.config import Settings
from app.services.presence import PresenceReplica
from app.services.user_directory import UserDirectory
from chat_shared.state import CoreState, state_in_scope


@dataclass(frozen=True, slots=True, kw_only=True)
class State(CoreState[Settings]):
    """The shared stores plus user-service's directory and the presence replica."""

    user_directory: UserDirectory
    presence: PresenceReplica


async def get_state(request: Request) -> State:
    """The state the lifespan built."""
    return state_in_scope(request.scope, State)


StateDep = Annotated[State, Depends(get_state)]
