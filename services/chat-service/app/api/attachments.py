"""``/rooms/{id}/attachments``: presigned uploads of files for the room's messages (CONTRACT §9)."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.api.deps import AttachmentServiceDep, RoomMemberDep
from app.schemas.attachment import AttachmentCreate, AttachmentUpload
from chat_shared.responses import MEMBER, error

router = APIRouter(prefix="/rooms/{room_id}/attachments", tags=["attachments"], responses=MEMBER)


@router.post(
    "",
    response_model=AttachmentUpload,
    status_code=status.HTTP_201_CREATED,
    responses=error(413, "The declared size is over the type's limit (images 10 MiB, other files 25 MiB)"),
)
async def create_attachment(
    body: AttachmentCreate, access: RoomMemberDep, attachments: AttachmentServiceDep
) -> AttachmentUpload:
    """Sign the upload of a file for the room (a type not accepted is a 422).

    ``PUT`` the file's exact bytes to ``upload.url`` with ``upload.headers``, then send a message with
    ``attachment_id``."""
    return await attachments.create(access.room.id, access.user_id, body)
