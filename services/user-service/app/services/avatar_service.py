"""Avatars (CONTRACT §9): a presigned upload, then a 256 px square stored under its content's hash.

The upload lands under ``avatars/uploads/<user>/<upload id>``; its declaration waits in Redis for as long as
the upload URL lives plus an hour. ``PUT /profile/me/avatar`` checks the object (size, magic number, a
readable image of at most 40 megapixels), cuts the centred square with Pillow in a thread, stores it as
``avatars/<sha256>.webp`` — the same picture is one object however often it is set, and a changed picture
is a new URL, so caches never serve an old one — deletes the upload and sets ``avatar_url``. The upload's
record keeps the result until it expires, so a retried ``PUT`` sets the same avatar again.

``avatar_url`` is a stable URL of user-service (``AVATAR_BASE_URL/<sha256>.webp``, through the gateway
``/api/users/avatars/…``) that answers with a redirect to a presigned ``GET`` minted per request: the bucket
stays private, and a URL kept in replicas, events and clients' caches never expires.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from app.core import metrics
from app.models.user import User
from app.schemas.avatar import AvatarCreate, AvatarUpload, UploadTarget
from app.services.profile_service import ProfileService
from chat_shared import media
from chat_shared.errors import Conflict, PayloadTooLarge, Unprocessable
from chat_shared.storage import ObjectStore

AVATAR_SIDE = 256
UPLOAD_FIELD = ("body", "upload_id")


def upload_key(user_id: int, upload_id: str) -> str:
    return f"avatars/uploads/{user_id}/{upload_id}"


def avatar_key(digest: str) -> str:
    return f"avatars/{digest}.webp"


def _pending_key(upload_id: str) -> str:
    return f"avatar-upload:{upload_id}"


def _refuse(reason: str, error: Exception) -> Exception:
    metrics.AVATARS_REFUSED.labels(reason).inc()
    return error


def _unfit(reason: str, detail: str) -> Exception:
    return _refuse(reason, Unprocessable(detail, UPLOAD_FIELD))


@dataclass
class AvatarService:
    """Avatar use cases, bound to one request's profile service."""

    profiles: ProfileService
    store: ObjectStore
    redis: Redis
    base_url: str

    async def create(self, user_id: int, body: AvatarCreate) -> AvatarUpload:
        """Sign the upload; 422 for a type that is not an image, 413 over 5 MiB."""
        content_type = body.content_type.strip().lower()
        if content_type not in media.IMAGE_TYPES:
            raise _refuse(
                "type", Unprocessable("an avatar is a JPEG, PNG, GIF or WebP image", ("body", "content_type"))
            )
        if body.size > media.AVATAR_LIMIT:
            raise _refuse("too_large", PayloadTooLarge(f"an avatar is at most {media.AVATAR_LIMIT // media.MiB} MiB"))
        upload_id = secrets.token_hex(16)
        upload = self.store.presign_upload(upload_key(user_id, upload_id), content_type, body.size, pending=True)
        pending = {"user_id": user_id, "content_type": content_type, "size": body.size}
        await self.redis.set(_pending_key(upload_id), json.dumps(pending), ex=upload.expires_in + 3600)
        metrics.AVATARS_SIGNED.inc()
        return AvatarUpload(
            upload_id=upload_id,
            upload=UploadTarget(url=upload.url, headers=upload.headers),
            expires_in=upload.expires_in,
        )

    async def apply(self, user_id: int, upload_id: str) -> User:
        """Check the upload, store its square and make it the caller's avatar."""
        raw = await self.redis.get(_pending_key(upload_id))
        pending = json.loads(raw) if raw else None
        if pending is None or pending["user_id"] != user_id:
            raise _unfit("not_yours", "upload_id is not an avatar upload of yours")
        if "avatar_url" in pending:  # a retry of a request whose commit did not reach the client
            return await self.profiles.set_avatar_url(user_id, pending["avatar_url"])
        key = upload_key(user_id, upload_id)
        info = await self.store.head(key)
        if info is None:
            raise _refuse("missing", Conflict("upload not found"))
        if info.size != pending["size"]:
            raise _unfit("size", "the upload is not the declared size")
        data = await self.store.read(key)
        if not media.matches_type(pending["content_type"], data[: media.SNIFF_BYTES]):
            raise _refuse(
                "content", Unprocessable(f"the upload's content is not {pending['content_type']}", UPLOAD_FIELD)
            )
        try:
            square = await asyncio.to_thread(media.square, data, AVATAR_SIDE)
        except media.BadImage as exc:
            raise _unfit("image", str(exc)) from exc
        digest = hashlib.sha256(square).hexdigest()
        await self.store.write(avatar_key(digest), square, "image/webp")
        url = f"{self.base_url.rstrip('/')}/{digest}.webp"
        # The upload's record remembers the result, so a retry sets the same avatar without the upload.
        await self.redis.set(_pending_key(upload_id), json.dumps({**pending, "avatar_url": url}), keepttl=True)
        user = await self.profiles.set_avatar_url(user_id, url)
        await self.store.delete(key)
        metrics.AVATARS_SET.inc()
        return user
