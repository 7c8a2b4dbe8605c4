"""user-service's state: what its lifespan opens for requests, reached through :data:`StateDep`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.core.config import Settings
from app.core.keys import KeyRing
from app.core.passwords import PasswordHasher
from app.services.presence_service import Presence
from chat_shared.state import CoreState, state_in_scope
from chat_shared.storage import ObjectStore


@dataclass(frozen=True, slots=True, kw_only=True)
class State(CoreState[Settings]):
    """The shared stores plus the signing keys, the password hasher, the presence tracker and the object store
    of avatars."""

    keys: KeyRing
    hasher: PasswordHasher
    presence: Presence
    store: ObjectStore


async def get_state(request: Request) -> State:
    """The state the lifespan built."""
    return state_in_scope(request.scope, State)


StateDep = Annotated[State, Depends(get_state)]
