"""Subscriptions and preferences: the use cases behind ``/notifications/*``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.metrics import SUBSCRIPTIONS
from app.models.subscription import Preference, Subscription
from app.repositories.subscriptions import SubscriptionRepository
from app.schemas.notification import (
    FcmSubscriptionIn,
    PreferencesOut,
    SubscriptionList,
    SubscriptionOut,
    WebPushSubscriptionIn,
)
from app.services.endpoints import check_endpoint, check_fcm_token, check_keys, target_key
from chat_shared.errors import Conflict, NotFound


@dataclass
class SubscriptionService:
    """A user's subscriptions and preferences, in the request's session."""

    session: AsyncSession
    settings: Settings

    @property
    def repo(self) -> SubscriptionRepository:
        return SubscriptionRepository(self.session)

    async def subscribe(self, user_id: int, body: WebPushSubscriptionIn | FcmSubscriptionIn) -> SubscriptionOut:
        """Add a subscription, or refresh the keys of the same endpoint/token; 409 past the per-user limit."""
        if isinstance(body, WebPushSubscriptionIn):
            host = check_endpoint(body.endpoint, self.settings.allowed_push_hosts, self.settings.push_allow_loopback)
            check_keys(body.keys.p256dh, body.keys.auth)
            target = body.endpoint
        else:
            check_fcm_token(body.token)
            host = "fcm.googleapis.com"
            target = body.token
        await self.repo.lock_user(user_id)
        key = target_key(target)
        existing = await self.repo.by_target(user_id, key)
        if existing is not None:
            if isinstance(body, WebPushSubscriptionIn):
                existing.p256dh, existing.auth = body.keys.p256dh, body.keys.auth
            return SubscriptionOut.of(existing)
        if await self.repo.count(user_id) >= self.settings.subscriptions_per_user:
            raise Conflict(f"At most {self.settings.subscriptions_per_user} subscriptions per user; delete one first")
        row = Subscription(user_id=user_id, type=body.type, target_key=key, host=host)
        if isinstance(body, WebPushSubscriptionIn):
            row.endpoint, row.p256dh, row.auth = body.endpoint, body.keys.p256dh, body.keys.auth
        else:
            row.token = body.token
        self.repo.add(row)
        await self.session.flush()
        SUBSCRIPTIONS.labels(body.type, "created").inc()
        return SubscriptionOut.of(row)

    async def list(self, user_id: int) -> SubscriptionList:
        return SubscriptionList(items=[SubscriptionOut.of(row) for row in await self.repo.of_user(user_id)])

    async def unsubscribe(self, user_id: int, subscription_id: int) -> None:
        """Delete one of the caller's subscriptions; 404 for an unknown id or another user's."""
        row = await self.repo.get(subscription_id)
        if row is None or row.user_id != user_id:
            raise NotFound("No such subscription")
        await self.repo.delete(subscription_id)
        SUBSCRIPTIONS.labels(row.type, "deleted").inc()

    async def preferences(self, user_id: int) -> PreferencesOut:
        row = await self.session.get(Preference, user_id)
        return PreferencesOut(show_preview=True if row is None else row.show_preview)

    async def set_preferences(self, user_id: int, show_preview: bool) -> PreferencesOut:
        row = await self.repo.lock_user(user_id)
        row.show_preview = show_preview
        await self.session.flush()
        return PreferencesOut(show_preview=show_preview)
