"""Attachments (CONTRACT §9): sign an upload for a member, and verify it when a message is sent with it.

The service never sees a file's bytes go by: it signs a ``PUT`` bound to the declared type and size, and at
the send reads the object's size (``HEAD``) and its first 64 KiB (the type's magic number, an image's
dimensions). Anything that does not hold refuses the send, which then stores nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import metrics
from app.models.attachment import Attachment, AttachmentState, object_key
from app.repositories.attachments import AttachmentRepository
from app.schemas.attachment import AttachmentCreate, AttachmentUpload, UploadTarget
from chat_shared import media
from chat_shared.db import utcnow
from chat_shared.errors import Conflict, PayloadTooLarge, Unprocessable
from chat_shared.events.chat import AttachmentRef
from chat_shared.storage import ObjectStore

ATTACHMENT_FIELD = ("body", "attachment_id")


def _refuse(reason: str, error: Exception) -> Exception:
    metrics.ATTACHMENTS_REFUSED.labels(reason).inc()
    return error


def _unfit(reason: str, detail: str) -> Exception:
    return _refuse(reason, Unprocessable(detail, ATTACHMENT_FIELD))


def kind_of(content_type: str) -> str:
    """``image`` or ``file``: the metric label and the message type an attachment may be sent as."""
    return "image" if content_type in media.IMAGE_TYPES else "file"


@dataclass(frozen=True, slots=True)
class Verified:
    """An upload that holds what was declared, ready to be bound to the message being sent."""

    row: Attachment
    ref: AttachmentRef


@dataclass
class AttachmentService:
    """Attachment use cases, bound to one request's session."""

    session: AsyncSession
    store: ObjectStore

    @property
    def repo(self) -> AttachmentRepository:
        return AttachmentRepository(self.session)

    async def create(self, room_id: int, user_id: int, body: AttachmentCreate) -> AttachmentUpload:
        """Record the declared file and sign its upload; 422 for a type not accepted, 413 over its limit."""
        content_type = body.content_type.strip().lower()
        limit = media.ATTACHMENT_LIMITS.get(content_type)
        if limit is None:
            raise _refuse("type", Unprocessable(f"{content_type} files are not accepted", loc=("body", "content_type")))
        if body.size > limit:
            raise _refuse("too_large", PayloadTooLarge(f"{content_type} files are at most {limit // media.MiB} MiB"))
        attachment = Attachment(
            id=secrets.token_hex(16),
            room_id=room_id,
            uploader_id=user_id,
            filename=body.filename,
            content_type=content_type,
            size=body.size,
            state=AttachmentState.PENDING,
            created_at=utcnow(),
        )
        self.repo.add(attachment)
        await self.session.flush()
        upload = self.store.presign_upload(object_key(room_id, attachment.id), content_type, body.size, pending=True)
        metrics.ATTACHMENTS_SIGNED.labels(kind_of(content_type)).inc()
        return AttachmentUpload(
            attachment_id=attachment.id,
            upload=UploadTarget(url=upload.url, headers=upload.headers),
            expires_in=upload.expires_in,
        )

    async def verify(self, room_id: int, user_id: int, attachment_id: str, message_type: str) -> Verified:
        """The upload, checked against what was declared (see the module's docstring)."""
        row = await self.repo.get(attachment_id)
        if row is None or row.room_id != room_id or row.uploader_id != user_id:
            raise _refuse(
                "not_yours", Unprocessable("attachment_id is not an upload of yours in this room", ATTACHMENT_FIELD)
            )
        if row.state != AttachmentState.PENDING:
            raise _refuse("used", Conflict("The attachment is already part of a message"))
        kind = kind_of(row.content_type)
        if message_type == "image" and kind != "image":
            raise _refuse(
                "type", Unprocessable(f"{row.content_type} is not an image: send it as a file", ATTACHMENT_FIELD)
            )
        key = object_key(room_id, row.id)
        info = await self.store.head(key)
        if info is None:
            raise _refuse("missing", Conflict("upload not found"))
        if info.size != row.size:
            raise _refuse(
                "size",
                Unprocessable(f"the upload has {info.size} bytes, not the declared {row.size}", ATTACHMENT_FIELD),
            )
        head = await self.store.read(key, first=media.SNIFF_BYTES)
        if not media.matches_type(row.content_type, head):
            raise _unfit("content", f"the upload's content is not {row.content_type}")
        width = height = None
        if kind == "image":
            try:
                size = media.image_size(head)
            except media.BadImage as exc:
                raise _unfit("image", str(exc)) from exc
            width, height = size.width, size.height
        # Untagged, the object is safe from the bucket's lifecycle rule (done here, before the send takes the
        # room's lock). A send that fails after this leaves the row pending, and the sweeper deletes it.
        await self.store.settle(key)
        ref = AttachmentRef(
            id=row.id,
            filename=row.filename,
            content_type=row.content_type,
            size=row.size,
            width=width,
            height=height,
        )
        return Verified(row, ref)

    async def bind(self, verified: Verified, message_id: str) -> None:
        """Make the upload the message's, in the send's transaction (a rolled-back send leaves it pending)."""
        if not await self.repo.bind(verified.row.id, message_id, verified.ref.width, verified.ref.height):
            raise _refuse("used", Conflict("The attachment is already part of a message"))
        metrics.ATTACHMENTS_VERIFIED.labels(kind_of(verified.ref.content_type)).inc()
