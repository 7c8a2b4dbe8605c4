"""notification-service's state: what its lifespan opens for requests, reached through :data:`StateDep`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.core.config import Settings
from app.services.mail_dispatcher import MailDispatcher
from app.services.planner import PushPlanner
from app.services.push_dispatcher import PushDispatcher
from app.services.webpush import WebPush
from chat_shared.presence import PresenceReplica
from chat_shared.state import CoreState, state_in_scope


@dataclass(frozen=True, slots=True, kw_only=True)
class State(CoreState[Settings]):
    """The shared stores plus the presence replica, the push planner and the two dispatchers."""

    presence: PresenceReplica
    webpush: WebPush
    planner: PushPlanner
    pushes: PushDispatcher
    mails: MailDispatcher


async def get_state(request: Request) -> State:
    """The state the lifespan built."""
    return state_in_scope(request.scope, State)


StateDep = Annotated[State, Depends(get_state)]
