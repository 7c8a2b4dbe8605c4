"""``/notifications/preferences`` and ``/notifications/vapid-public-key``."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import SubscriptionServiceDep
from app.core.state import StateDep
from app.schemas.notification import PreferencesIn, PreferencesOut, VapidKeyOut
from chat_shared.auth import CurrentUser
from chat_shared.responses import AUTH, TOO_LARGE

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("/preferences", response_model=PreferencesOut, responses=AUTH)
async def get_preferences(user: CurrentUser, subscriptions: SubscriptionServiceDep) -> PreferencesOut:
    """The caller's notification preferences."""
    return await subscriptions.preferences(user.id)


@router.put("/preferences", response_model=PreferencesOut, responses=AUTH | TOO_LARGE)
async def put_preferences(
    body: PreferencesIn, user: CurrentUser, subscriptions: SubscriptionServiceDep
) -> PreferencesOut:
    """Set the caller's preferences: ``show_preview: false`` sends pushes without the message text."""
    return await subscriptions.set_preferences(user.id, body.show_preview)


@router.get("/vapid-public-key", response_model=VapidKeyOut)
async def vapid_public_key(state: StateDep) -> VapidKeyOut:
    """The key a browser passes as ``applicationServerKey`` when it subscribes (RFC 8292); public."""
    return VapidKeyOut(public_key=state.webpush.public_key())
