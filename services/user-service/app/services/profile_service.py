"""Profiles: own profile read/update, public profiles with presence, batch lookup, search."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.kafka import events
from app.models.user import User
from app.repositories.users import UserRepository
from app.schemas.user import OwnProfile, ProfileUpdate, PublicProfile, UserPage
from app.services.presence_service import Presence
from chat_shared.db import utcnow
from chat_shared.errors import NotFound, Unauthorized
from chat_shared.outbox import Outbox


@dataclass
class ProfileService:
    """Profile use cases."""

    session: AsyncSession
    presence: Presence
    outbox: Outbox

    @property
    def users(self) -> UserRepository:
        return UserRepository(self.session)

    async def public(self, users: list[User]) -> list[PublicProfile]:
        """Public profiles with ``is_online`` and ``last_seen_at`` from presence."""
        online = await self.presence.status([u.id for u in users])
        return [
            PublicProfile(
                id=u.id,
                username=u.username,
                display_name=u.display_name,
                status_message=u.status_message,
                avatar_url=u.avatar_url,
                is_online=u.id in online,
                last_seen_at=online.get(u.id, u.last_seen_at),
                created_at=u.created_at,
            )
            for u in users
        ]

    async def own(self, user: User) -> OwnProfile:
        """The owner's view: public profile plus email."""
        (profile,) = await self.public([user])
        return OwnProfile(**profile.model_dump(), email=user.email)

    async def me(self, user_id: int) -> User:
        """The caller's account; 401 if it vanished since the token was issued."""
        user = await self.users.get(user_id)
        if user is None:
            raise Unauthorized("Account no longer exists")
        return user

    async def update(self, user_id: int, body: ProfileUpdate) -> User:
        """Apply the given fields; stage ``UserProfileUpdated`` when anything changed."""
        user = await self.users.get(user_id, for_update=True)
        if user is None:
            raise Unauthorized("Account no longer exists")
        changes = body.model_dump(exclude_unset=True)
        if "display_name" in changes and changes["display_name"] is None:
            changes.pop("display_name")  # the display name can change but not disappear
        changed = False
        for field, value in changes.items():
            if getattr(user, field) != value:
                setattr(user, field, value)
                changed = True
        if changed:
            user.updated_at = utcnow()
            self.outbox.add(self.session, events.profile_updated(user))
        return user

    async def set_avatar_url(self, user_id: int, url: str) -> User:
        """Point the avatar at ``url`` (an avatar the service stored); staged like any profile change."""
        user = await self.users.get(user_id, for_update=True)
        if user is None:
            raise Unauthorized("Account no longer exists")
        if user.avatar_url != url:
            user.avatar_url = url
            user.updated_at = utcnow()
            self.outbox.add(self.session, events.profile_updated(user))
        return user

    async def get(self, user_id: int) -> PublicProfile:
        """A public profile; 404 when unknown."""
        user = await self.users.get(user_id)
        if user is None:
            raise NotFound("User not found")
        (profile,) = await self.public([user])
        return profile

    async def batch(self, ids: list[int]) -> UserPage:
        """Public profiles of up to 100 ids; unknown ids are left out."""
        return UserPage(items=await self.public(await self.users.many(sorted(set(ids)))))

    async def search(self, query: str, cursor: int, limit: int) -> UserPage:
        """Prefix search on username or display name, paged by id."""
        users = await self.users.search(query, cursor, limit + 1)
        next_cursor = str(users[limit - 1].id) if len(users) > limit else None
        return UserPage(items=await self.public(users[:limit]), next_cursor=next_cursor)
