"""Reads and writes of subscriptions and preferences."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.subscription import Preference, Subscription
from chat_shared.dialect import upsert


class SubscriptionRepository:
    """A user's subscriptions."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_user(self, user_id: int) -> Preference:
        """The user's preferences row, created if absent and locked until the transaction ends: concurrent
        subscription changes of one user run one after the other (the per-user limit holds)."""
        await self.session.execute(
            upsert(
                self.session,
                Preference,
                {"user_id": user_id, "show_preview": True},
                key=[Preference.user_id],
                update=lambda new: {"user_id": new.user_id},
            )
        )
        row = await self.session.scalar(select(Preference).where(Preference.user_id == user_id).with_for_update())
        assert row is not None
        return row

    async def count(self, user_id: int) -> int:
        return int(await self.session.scalar(select(func.count()).where(Subscription.user_id == user_id)) or 0)

    async def by_target(self, user_id: int, target_key: str) -> Subscription | None:
        return await self.session.scalar(
            select(Subscription).where(Subscription.user_id == user_id, Subscription.target_key == target_key)
        )

    async def get(self, subscription_id: int) -> Subscription | None:
        return await self.session.get(Subscription, subscription_id)

    def add(self, subscription: Subscription) -> None:
        self.session.add(subscription)

    async def of_user(self, user_id: int) -> list[Subscription]:
        return list(
            await self.session.scalars(
                select(Subscription).where(Subscription.user_id == user_id).order_by(Subscription.id)
            )
        )

    async def of_users(self, user_ids: Sequence[int]) -> dict[int, list[Subscription]]:
        """Subscriptions of these users, by user."""
        found: dict[int, list[Subscription]] = defaultdict(list)
        if user_ids:
            rows = await self.session.scalars(
                select(Subscription).where(Subscription.user_id.in_(list(user_ids))).order_by(Subscription.id)
            )
            for row in rows:
                found[row.user_id].append(row)
        return found

    async def delete(self, subscription_id: int) -> bool:
        result = await self.session.execute(delete(Subscription).where(Subscription.id == subscription_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete_user(self, user_id: int) -> None:
        await self.session.execute(delete(Subscription).where(Subscription.user_id == user_id))
        await self.session.execute(delete(Preference).where(Preference.user_id == user_id))


class PreferenceRepository:
    """A user's notification preferences."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def show_preview(self, user_ids: Sequence[int]) -> dict[int, bool]:
        """``show_preview`` by user (absent: the default, true)."""
        if not user_ids:
            return {}
        rows = await self.session.execute(
            select(Preference.user_id, Preference.show_preview).where(Preference.user_id.in_(list(user_ids)))
        )
        found = {int(row[0]): bool(row[1]) for row in rows}
        return {u: found.get(u, True) for u in user_ids}
