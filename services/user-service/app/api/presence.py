"""``/presence``: heartbeats."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import PresenceDep
from app.core.state import StateDep
from chat_shared.auth import CurrentUser
from chat_shared.db import SessionDep, utcnow
from chat_shared.events.user import UserOnline

router = APIRouter(prefix="/presence", tags=["presence"])


@router.post("/heartbeat")
async def heartbeat(
    state: StateDep, user: CurrentUser, presence: PresenceDep, session: SessionDep
) -> dict[str, object]:
    """Mark the caller online for the next 60 s; the first heartbeat after being offline publishes ``UserOnline``."""
    now = utcnow()
    if await presence.heartbeat(user.id, now):
        state.outbox.add(session, UserOnline(user_id=user.id, at=now))
    return {"online": True, "ttl_s": presence.ttl_s}
