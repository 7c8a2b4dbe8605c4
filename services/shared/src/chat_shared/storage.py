"""Object storage: one private S3-compatible bucket per environment, reached through aiobotocore.

Files never pass through the services. A client uploads with a presigned ``PUT`` whose signature binds the
declared ``Content-Type`` and ``Content-Length`` (the store refuses anything else), and downloads with a
presigned ``GET`` minted for each read. The services only sign, look at an object's size and first bytes,
write small derived images (thumbnails, avatars) and delete.

aiobotocore rather than aioboto3: only the low-level client is needed, and aioboto3 is a resource-API layer
over the very same aiobotocore client. Presigning is pure computation (an HMAC, no network), so URLs are
minted by a plain botocore client synchronously — a render step (the live stream's) can sign without
awaiting anything. Two endpoints: the one the services reach (``s3_endpoint_url``) and the one clients
reach (``s3_public_url``, when it differs — a compose network's ``minio:9000`` against the host's
``localhost:9000``); the host is part of the signature, so URLs are signed for the public one.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import botocore.session
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import model_validator

from chat_shared.settings import ServiceSettings

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import ObjectIdentifierTypeDef

AddressingStyle = Literal["path", "virtual", "auto"]
#: The tag of an upload nothing refers to yet. The bucket's lifecycle rule expires objects that keep it for
#: days — the second guard behind the services' own sweeping (docs/deploy.md, "Object storage").
PENDING_TAG = "bigtech-state=pending"
#: Codes S3 (and MinIO, moto) answer for an object or bucket that is not there.
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


class ObjectStoreSettings(ServiceSettings):
    """The object store's settings; the credentials are secrets (environment or ``/run/secrets/<name>``)."""

    secret_fields: ClassVar[tuple[str, ...]] = ("s3_access_key_id", "s3_secret_access_key")

    #: The store as the service reaches it; empty means AWS S3 itself (the region's endpoint).
    s3_endpoint_url: str = "http://127.0.0.1:8019"
    #: The store as clients reach it, when that differs; presigned URLs are signed for this host.
    s3_public_url: str | None = None
    s3_region: str = "us-east-1"
    s3_bucket: str = "bigtech-chat-dev"
    #: The defaults serve the embedded development store only; a deployment that keeps them refuses to start.
    s3_access_key_id: str = "changeme-access-key"
    s3_secret_access_key: str = "changeme-secret-key"
    #: ``path`` (``host/bucket/key``: MinIO, moto, most self-hosted stores) or ``virtual`` (``bucket.host/key``:
    #: AWS's preferred style); ``auto`` lets botocore choose.
    s3_addressing_style: AddressingStyle = "path"
    #: How long a presigned upload URL may be used.
    s3_upload_ttl_s: int = 900
    #: How long a presigned download URL works (the contract asks at least 5 minutes).
    s3_download_ttl_s: int = 900
    #: Create the bucket at start-up when it is missing (development and tests; a deployment provisions it).
    s3_create_bucket: bool = False

    @model_validator(mode="after")
    def _download_urls_last(self) -> ObjectStoreSettings:
        if self.s3_download_ttl_s < 300:
            raise ValueError("S3_DOWNLOAD_TTL_S must be at least 300: download URLs stay valid for 5 minutes")
        return self


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a ``HEAD`` tells about an object."""

    size: int
    content_type: str


@dataclass(frozen=True, slots=True)
class Upload:
    """A presigned upload: the client sends ``PUT url`` with exactly these headers and the declared bytes."""

    url: str
    headers: dict[str, str]
    expires_in: int


class ObjectStore:
    """The bucket of one environment. :meth:`open` before use, :meth:`close` at shutdown."""

    def __init__(self, settings: ObjectStoreSettings) -> None:
        self.settings = settings
        self.bucket = settings.s3_bucket
        self._config = Config(
            signature_version="s3v4",
            s3={"addressing_style": settings.s3_addressing_style},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=2,
            read_timeout=10,
        )
        credentials = {
            "region_name": settings.s3_region,
            "aws_access_key_id": settings.s3_access_key_id,
            "aws_secret_access_key": settings.s3_secret_access_key,
        }
        self._credentials = credentials
        self._signer = botocore.session.get_session().create_client(
            "s3",
            endpoint_url=settings.s3_public_url or settings.s3_endpoint_url or None,
            config=self._config,
            **credentials,
        )
        self._stack = contextlib.AsyncExitStack()
        self._client: S3Client | None = None

    async def open(self) -> ObjectStore:
        """Open the client (no network yet); create the bucket when the settings ask for it."""
        self._client = await self._stack.enter_async_context(
            get_session().create_client(
                "s3",
                endpoint_url=self.settings.s3_endpoint_url or None,
                config=self._config,
                **self._credentials,
            )
        )
        if self.settings.s3_create_bucket:
            await self.ensure_bucket()
        return self

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None

    @property
    def client(self) -> S3Client:
        if self._client is None:
            raise RuntimeError("the object store is not open")
        return self._client

    async def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (idempotent)."""
        try:
            await self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in _MISSING:
                raise
            with contextlib.suppress(self.client.exceptions.BucketAlreadyOwnedByYou):
                await self.client.create_bucket(Bucket=self.bucket)

    async def ping(self) -> bool:
        """Readiness: the bucket answers."""
        await self.client.head_bucket(Bucket=self.bucket)
        return True

    # --- signing (no network) --------------------------------------------------------------------

    def presign_upload(
        self, key: str, content_type: str, size: int, expires_in: int | None = None, *, pending: bool = False
    ) -> Upload:
        """A ``PUT`` URL bound to ``content_type`` and exactly ``size`` bytes; ``pending`` has the object tagged
        :data:`PENDING_TAG` (a bucket lifecycle rule expires what keeps the tag: see :meth:`settle`)."""
        ttl = expires_in or self.settings.s3_upload_ttl_s
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "ContentType": content_type, "ContentLength": size}
        headers = {"Content-Type": content_type, "Content-Length": str(size)}
        if pending:
            params["Tagging"] = headers["x-amz-tagging"] = PENDING_TAG
        url = self._signer.generate_presigned_url("put_object", Params=params, ExpiresIn=ttl)
        return Upload(url=url, headers=headers, expires_in=ttl)

    def presign_download(self, key: str, filename: str | None = None, expires_in: int | None = None) -> str:
        """A ``GET`` URL; with ``filename`` the download is offered under that name, never rendered inline."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        url: str = self._signer.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires_in or self.settings.s3_download_ttl_s
        )
        return url

    # --- object operations -------------------------------------------------------------------------

    async def head(self, key: str) -> ObjectInfo | None:
        """Size and type of the object, or None when it does not exist (yet)."""
        try:
            found = await self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise
        return ObjectInfo(size=int(found["ContentLength"]), content_type=str(found.get("ContentType", "")))

    async def read(self, key: str, first: int | None = None) -> bytes:
        """The object's bytes, or only its first ``first`` bytes (a ranged GET)."""
        extra: dict[str, Any] = {"Range": f"bytes=0-{first - 1}"} if first else {}
        found = await self.client.get_object(Bucket=self.bucket, Key=key, **extra)
        async with found["Body"] as body:
            data: bytes = await body.read()
        return data

    async def write(self, key: str, data: bytes, content_type: str) -> None:
        await self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    async def settle(self, key: str) -> None:
        """Remove the object's tags: something now refers to it, so the lifecycle rule leaves it alone."""
        await self.client.delete_object_tagging(Bucket=self.bucket, Key=key)

    async def delete(self, *keys: str) -> None:
        """Delete objects; deleting what is already gone is no error (S3's own semantics)."""
        for start in range(0, len(keys), 1000):
            batch: list[ObjectIdentifierTypeDef] = [{"Key": k} for k in keys[start : start + 1000]]
            if batch:
                await self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def content_disposition(filename: str) -> str:
    """``attachment`` with the name in ASCII and in RFC 5987 UTF-8, so any script survives."""
    from urllib.parse import quote

    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
