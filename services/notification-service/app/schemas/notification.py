"""Request and response bodies of notification-service (CONTRACT §10)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.models.subscription import Subscription
from chat_shared.schemas import ClosedModel, Timestamp


class WebPushKeys(ClosedModel):
    """The browser's keys of a ``PushSubscription`` (base64url)."""

    p256dh: str = Field(min_length=1, max_length=100)
    auth: str = Field(min_length=1, max_length=32)


class WebPushSubscriptionIn(ClosedModel):
    """A browser's ``PushSubscription.toJSON()`` (``expirationTime`` may be sent and is ignored)."""

    type: Literal["webpush"]
    endpoint: str = Field(min_length=1, max_length=2048)
    keys: WebPushKeys
    expirationTime: int | None = None  # noqa: N815 - the browser's field name


class FcmSubscriptionIn(ClosedModel):
    """An app's FCM registration token."""

    type: Literal["fcm"]
    token: str = Field(min_length=1, max_length=4096)


SubscriptionIn = Annotated[WebPushSubscriptionIn | FcmSubscriptionIn, Field(discriminator="type")]


class SubscriptionOut(BaseModel):
    """A subscription of the caller (its secrets are not echoed)."""

    id: int
    type: Literal["webpush", "fcm"]
    created_at: Timestamp

    @classmethod
    def of(cls, row: Subscription) -> SubscriptionOut:
        return cls.model_validate({"id": row.id, "type": row.type, "created_at": row.created_at})


class SubscriptionList(BaseModel):
    """The caller's subscriptions, oldest first."""

    items: list[SubscriptionOut]


class PreferencesIn(ClosedModel):
    """``PUT /notifications/preferences``."""

    show_preview: bool


class PreferencesOut(BaseModel):
    """The caller's notification preferences."""

    show_preview: bool


class VapidKeyOut(BaseModel):
    """The application server key a browser subscribes with (``applicationServerKey``), base64url."""

    public_key: str


class SenderOut(BaseModel):
    id: int
    display_name: str


class PushPayload(BaseModel):
    """What a push carries (encrypted for Web Push): the latest message of the room it covers, and how many
    messages it covers."""

    room_id: int
    message_id: str
    seq: int
    sender: SenderOut
    preview: str | None
    count: int
