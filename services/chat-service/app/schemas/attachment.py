"""Attachment bodies (CONTRACT §9): the upload a client asks for, and the file a message carries."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, Field

from chat_shared.events.chat import AttachmentRef
from chat_shared.schemas import ClosedModel

#: An attachment's id: 32 lower-case hex characters.
AttachmentId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", min_length=32, max_length=32)]


def _filename(value: str) -> str:
    # Only the last path segment, without control characters: the name is shown and offered as the download's
    # name, never used as a path.
    name = value.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    if not name:
        raise ValueError("filename must name a file")
    return name


class AttachmentCreate(ClosedModel):
    """``POST /rooms/{id}/attachments``: what the client is about to upload."""

    filename: Annotated[
        str,
        Field(min_length=1, max_length=255, description="Shown to members and offered as the download's name"),
        AfterValidator(_filename),
    ]
    content_type: Annotated[str, Field(min_length=1, max_length=100, description="One of the accepted types")]
    size: Annotated[int, Field(gt=0, lt=2**63, description="Exact length in bytes")]


class UploadTarget(BaseModel):
    """Where and how to upload: ``PUT url`` with exactly ``headers`` and the declared bytes."""

    url: str
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str]


class AttachmentUpload(BaseModel):
    """The attachment's id (send it with the message once the upload finished) and its presigned upload."""

    attachment_id: str
    upload: UploadTarget
    expires_in: int = Field(description="Seconds the upload URL works")


class AttachmentOut(AttachmentRef):
    """The file of a message, with download URLs minted for the reader (valid at least 5 minutes)."""

    thumbnail: bool = Field(False, exclude=True)
    url: str | None = Field(None, description="Presigned download URL")
    thumbnail_url: str | None = Field(None, description="Presigned URL of the thumbnail; null until it exists")

    @classmethod
    def of(cls, ref: AttachmentRef) -> Self:
        return cls(**ref.model_dump())
