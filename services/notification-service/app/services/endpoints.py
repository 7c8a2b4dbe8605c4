"""What a subscription may name: Web Push endpoints on the allow-listed push services (https), the
browser's P-256 key and auth secret in their RFC 8291 sizes, and FCM registration tokens.

An endpoint is checked, never fetched: the service must not become a way to make requests to arbitrary
hosts (SSRF). Loopback endpoints are accepted only when the deployment sets ``PUSH_ALLOW_LOOPBACK``
(``make dev`` and the tests, for a local receiver).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from chat_shared.errors import Unprocessable

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
_B64URL = re.compile(r"^[A-Za-z0-9_-]+=*$")
_FCM_TOKEN = re.compile(r"^[A-Za-z0-9_:\-]{20,4096}$")


def b64url_decode(value: str) -> bytes:
    """Decode base64url with or without padding."""
    if not _B64URL.match(value):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))


def target_key(value: str) -> str:
    """The SHA-256 of an endpoint or token: what identifies one browser or device of a user."""
    return hashlib.sha256(value.encode()).hexdigest()


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``host`` is an entry of ``allowed`` or under one of its ``.suffix`` entries."""
    return any(host == entry or (entry.startswith(".") and host.endswith(entry)) for entry in allowed)


def check_endpoint(endpoint: str, allowed: tuple[str, ...], allow_loopback: bool) -> str:
    """The endpoint's host if it may be pushed to; a 422 otherwise."""
    loc = ("body", "endpoint")
    try:
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise Unprocessable("The endpoint is not a valid URL", loc=loc) from exc
    if not host or parts.username or parts.password:
        raise Unprocessable("The endpoint is not a valid push service URL", loc=loc)
    if allow_loopback and host in LOOPBACK_HOSTS and parts.scheme in ("http", "https"):
        return host
    if parts.scheme != "https":
        raise Unprocessable("The endpoint must be an https URL", loc=loc)
    if not host_allowed(host, allowed):
        raise Unprocessable("The endpoint is not on a known push service", loc=loc)
    return host


def check_keys(p256dh: str, auth: str) -> None:
    """``p256dh`` is an uncompressed P-256 point and ``auth`` a 16-byte secret (RFC 8291 §3); else a 422."""
    try:
        point = b64url_decode(p256dh)
        if len(point) != 65 or point[0] != 4:
            raise ValueError("not an uncompressed point")
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except (ValueError, binascii.Error) as exc:
        raise Unprocessable(
            "keys.p256dh is not a P-256 public key (base64url)", loc=("body", "keys", "p256dh")
        ) from exc
    try:
        secret = b64url_decode(auth)
    except (ValueError, binascii.Error) as exc:
        raise Unprocessable("keys.auth is not base64url", loc=("body", "keys", "auth")) from exc
    if len(secret) != 16:
        raise Unprocessable("keys.auth must be 16 bytes", loc=("body", "keys", "auth"))


def check_fcm_token(token: str) -> None:
    """An FCM registration token's alphabet and size; else a 422."""
    if not _FCM_TOKEN.match(token):
        raise Unprocessable("token is not an FCM registration token", loc=("body", "token"))
