"""``/stream/tickets`` (the stream itself is the bare ASGI endpoint in ``app.stream.endpoint``)."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel

from app.core.state import StateDep
from chat_shared.auth import CurrentUser
from chat_shared.responses import AUTH

router = APIRouter(prefix="/stream", tags=["stream"], responses=AUTH)


class TicketOut(BaseModel):
    """A stream ticket for ``GET /stream?ticket=``."""

    ticket: str
    expires_in: int


@router.post("/tickets", response_model=TicketOut, status_code=status.HTTP_201_CREATED)
async def create_ticket(state: StateDep, user: CurrentUser) -> TicketOut:
    """A ticket to open the caller's stream from a browser (EventSource cannot send headers); 5 minutes.

    It works only while the session of the caller's token lasts."""
    tickets = state.tickets
    return TicketOut(ticket=await tickets.issue(user), expires_in=tickets.ttl_s)
