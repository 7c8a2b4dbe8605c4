"""``/presence``: heartbeats."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import PresenceDep
from app.core.state import StateDep
from chat_shared.auth import CurrentUser
from chat_shared.db import SessionDep, utcnow

router = APIRouter(prefix="/presence", tags=["presence"])


@router.post("/heartbeat")
async def heartbeat(
    state: StateDep, user: CurrentUser, presence: PresenceDep, session: SessionDep
) -> dict[str, object]:
    """Mark the caller online for the next 60 s; the first heartbeat after being offline publishes ``UserOnline``."""
    await presence.heartbeat(session, state.outbox, user.id, utcnow())
    return {"online": True, "ttl_s": presence.ttl_s}
