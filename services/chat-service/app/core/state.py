"""chat-service's state: what its lifespan opens for requests, reached through :data:`StateDep`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.core.config import Settings
from app.services.friend_directory import FriendDirectory
from app.stream.ephemeral import EphemeralBus
from app.stream.hub import StreamHub
from app.stream.tickets import TicketStore
from chat_shared.state import CoreState, state_in_scope


@dataclass(frozen=True, slots=True, kw_only=True)
class State(CoreState[Settings]):
    """The shared stores, the live stream's hub, its tickets and its ephemeral events, and friend-service's
    directory."""

    tickets: TicketStore
    hub: StreamHub
    ephemeral: EphemeralBus
    friend_directory: FriendDirectory


async def get_state(request: Request) -> State:
    """The state the lifespan built."""
    return state_in_scope(request.scope, State)


StateDep = Annotated[State, Depends(get_state)]
