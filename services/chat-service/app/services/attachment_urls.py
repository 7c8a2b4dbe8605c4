"""Download URLs of attachments, minted on every read for whoever may read the message.

Messages and their events carry only the attachment's description; each response (send, history, edit,
reactions) and each event written to a member's stream gets fresh presigned URLs here. A URL is a bearer
capability for one object that expires (``S3_DOWNLOAD_TTL_S``, at least 5 minutes), so it is minted only
after membership was checked: by the route's ``RoomMemberDep``, or by the fan-out that put the event into
the member's log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from app.models.attachment import object_key, thumbnail_key
from app.schemas.message import MessageOut
from app.stream.hub import encode_data
from chat_shared.storage import ObjectStore

#: The stream events whose data carries a message (``{"room_id": …, "message": {…}}``).
MESSAGE_EVENTS = frozenset({"message.created", "message.updated", "message.deleted", "reaction.updated"})


class AttachmentUrls:
    """Mints the URLs of messages' attachments (pure computation: no round trip to the store)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def _mint(self, room_id: int, attachment: dict[str, Any]) -> None:
        attachment_id = str(attachment["id"])
        attachment["url"] = self.store.presign_download(object_key(room_id, attachment_id), attachment["filename"])
        attachment["thumbnail_url"] = (
            self.store.presign_download(thumbnail_key(room_id, attachment_id)) if attachment.get("thumbnail") else None
        )
        attachment.pop("thumbnail", None)

    def sign(self, message: MessageOut) -> MessageOut:
        """The message with its attachment's URLs filled in."""
        if message.attachment is not None:
            minted = message.attachment.model_dump()
            minted["thumbnail"] = message.attachment.thumbnail
            self._mint(message.room_id, minted)
            message.attachment.url = minted["url"]
            message.attachment.thumbnail_url = minted["thumbnail_url"]
        return message

    def sign_all(self, messages: Iterable[MessageOut | None]) -> None:
        for message in messages:
            if message is not None:
                self.sign(message)

    def render(self, event: str, data: str) -> str:
        """A stream event's ``data`` as one member receives it: URLs minted at the moment of writing, so a
        replay hours later still gets working ones."""
        if event not in MESSAGE_EVENTS or '"attachment":{' not in data:
            return data
        payload = json.loads(data)
        message = payload.get("message") or {}
        if message.get("attachment"):
            self._mint(int(message["room_id"]), message["attachment"])
        return encode_data(payload)
