"""Dependencies of notification-service routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.state import StateDep
from app.services.subscription_service import SubscriptionService
from chat_shared.db import SessionDep


async def get_subscription_service(state: StateDep, session: SessionDep) -> SubscriptionService:
    """Subscription use cases bound to this request's session."""
    return SubscriptionService(session=session, settings=state.settings)


SubscriptionServiceDep = Annotated[SubscriptionService, Depends(get_subscription_service)]
