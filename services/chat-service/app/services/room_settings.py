"""A member's own settings for a room (``muted_until``, ``notify``): they steer push and e-mail, never the
stream, and are published as ``RoomSettingsChanged`` for the notification service."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.models.room import RoomMember
from app.schemas.members import RoomSettingsOut, SettingsUpdate
from app.services.member_views import settings_out
from chat_shared.db import utcnow
from chat_shared.events.chat import NotifyLevel, RoomSettingsChanged
from chat_shared.outbox import Outbox


async def update_settings(
    session: AsyncSession, outbox: Outbox, member: RoomMember, body: SettingsUpdate
) -> RoomSettingsOut:
    """Replace the member's settings; a mute already over is stored as none. Unchanged settings publish
    nothing."""
    now = utcnow()
    muted_until = body.muted_until if body.muted_until is not None and body.muted_until > now else None
    current = settings_out(member, now)
    if (current.muted_until, current.notify) != (muted_until, body.notify):
        member.muted_until, member.notify = muted_until, body.notify
        outbox.add(
            session,
            RoomSettingsChanged(
                room_id=member.room_id,
                user_id=member.user_id,
                muted_until=muted_until,
                notify=NotifyLevel(body.notify),
                at=now,
            ),
        )
    return settings_out(member, now)
