"""``/presence``: heartbeats."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from app.api.deps import PresenceDep
from app.core.state import StateDep
from chat_shared.auth import CurrentUser
from chat_shared.db import SessionDep, utcnow
from chat_shared.responses import AUTH

router = APIRouter(prefix="/presence", tags=["presence"], responses=AUTH)


class HeartbeatOut(BaseModel):
    """The caller is online for the next ``ttl_s`` seconds."""

    online: bool
    ttl_s: int


@router.post("/heartbeat", response_model=HeartbeatOut)
async def heartbeat(state: StateDep, user: CurrentUser, presence: PresenceDep, session: SessionDep) -> HeartbeatOut:
    """Mark the caller online for the next 60 s; the first heartbeat after being offline publishes ``UserOnline``."""
    await presence.heartbeat(session, state.outbox, user.id, utcnow())
    return HeartbeatOut(online=True, ttl_s=presence.ttl_s)
