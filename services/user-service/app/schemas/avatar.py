"""Avatar bodies (CONTRACT §9): the upload a client asks for, and the upload it then makes its avatar."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from chat_shared.schemas import ClosedModel


class AvatarCreate(ClosedModel):
    """``POST /profile/me/avatar``: the picture about to be uploaded."""

    content_type: Annotated[str, Field(min_length=1, max_length=100, description="image/jpeg, png, gif or webp")]
    size: Annotated[int, Field(gt=0, lt=2**63, description="Exact length in bytes (at most 5 MiB)")]


class UploadTarget(BaseModel):
    """Where and how to upload: ``PUT url`` with exactly ``headers`` and the declared bytes."""

    url: str
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str]


class AvatarUpload(BaseModel):
    """The upload's id (give it to ``PUT /profile/me/avatar`` once uploaded) and its presigned URL."""

    upload_id: str
    upload: UploadTarget
    expires_in: int = Field(description="Seconds the upload URL works")


class AvatarSet(ClosedModel):
    """``PUT /profile/me/avatar``: make a finished upload the caller's avatar."""

    upload_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", min_length=32, max_length=32)]
