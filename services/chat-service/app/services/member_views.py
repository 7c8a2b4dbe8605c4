"""The members and the caller's settings as a room object shows them."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from app.models.room import DIRECT, NOTIFY_ALL, Room, RoomMember
from app.schemas.members import MemberOut, Notify, Role, RoomSettingsOut


def members_out(room: Room, members: list[RoomMember]) -> list[MemberOut]:
    """The room's members with their roles (none in a direct room), by user id."""
    return [
        MemberOut(user_id=m.user_id, role=None if room.type == DIRECT else cast(Role, m.role), joined_at=m.joined_at)
        for m in sorted(members, key=lambda m: m.user_id)
    ]


def settings_out(member: RoomMember | None, now: datetime) -> RoomSettingsOut:
    """The member's settings; a mute whose time has passed is no mute."""
    if member is None:
        return RoomSettingsOut(muted_until=None, notify=NOTIFY_ALL)
    muted = member.muted_until if member.muted_until is not None and member.muted_until > now else None
    return RoomSettingsOut(muted_until=muted, notify=cast(Notify, member.notify or NOTIFY_ALL))
