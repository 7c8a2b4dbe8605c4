"""``/notifications/subscriptions``: add, list and delete the caller's push subscriptions."""

from __future__ import annotations

from fastapi import APIRouter, Body, Response, status

from app.api.deps import SubscriptionServiceDep
from app.schemas.notification import SubscriptionIn, SubscriptionList, SubscriptionOut
from chat_shared.auth import CurrentUser
from chat_shared.responses import AUTH, NOT_FOUND, TOO_LARGE, error
from chat_shared.schemas import Id

router = APIRouter(prefix="/notifications/subscriptions", tags=["notifications"], responses=AUTH)


@router.post(
    "",
    response_model=SubscriptionOut,
    status_code=status.HTTP_201_CREATED,
    responses=error(409, "The caller already has the maximum number of subscriptions") | TOO_LARGE,
)
async def subscribe(
    user: CurrentUser, subscriptions: SubscriptionServiceDep, body: SubscriptionIn = Body()
) -> SubscriptionOut:
    """Subscribe a browser (Web Push) or an app (FCM); the same endpoint or token again is the same one.

    Posting an existing endpoint or token refreshes its keys and answers the existing subscription."""
    return await subscriptions.subscribe(user.id, body)


@router.get("", response_model=SubscriptionList)
async def list_subscriptions(user: CurrentUser, subscriptions: SubscriptionServiceDep) -> SubscriptionList:
    """The caller's subscriptions, oldest first."""
    return await subscriptions.list(user.id)


@router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def unsubscribe(subscription_id: Id, user: CurrentUser, subscriptions: SubscriptionServiceDep) -> Response:
    """Delete one of the caller's subscriptions."""
    await subscriptions.unsubscribe(user.id, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
