"""Web Push: VAPID authentication (RFC 8292, ``py_vapid``) and aes128gcm payload encryption (RFC 8291,
``http_ece``), sent with httpx.

``pywebpush`` wraps the same two libraries around ``requests``/``aiohttp``; using them directly keeps one
async HTTP client (httpx, with its timeouts and connection pool) for every push service and FCM, and lets
the VAPID token be signed once per push service origin and reused until near its expiry instead of once per
push (an ECDSA signature per push would cost more than the encryption itself).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import http_ece
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from app.models.subscription import Subscription
from app.services.endpoints import b64url_decode
from app.services.push_result import Outcome, PushResult, classify

#: A VAPID token is valid for at most 24 h (RFC 8292 §2); ours for 12 h, renewed an hour before expiry.
TOKEN_LIFETIME_S = 12 * 3600
TOKEN_RENEW_S = 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate_vapid_pem() -> bytes:
    """A new P-256 private key as PKCS#8 PEM (what ``VAPID_PRIVATE_KEY_FILE`` holds)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class WebPush:
    """Encrypts and sends pushes to Web Push endpoints."""

    def __init__(
        self, pem: bytes, subject: str, ttl_s: int, client: httpx.AsyncClient, clock: Callable[[], float] = time.time
    ) -> None:
        self.vapid = Vapid02.from_pem(pem)
        self.subject = subject
        self.ttl_s = ttl_s
        self.client = client
        self.clock = clock
        self._tokens: dict[str, tuple[float, str]] = {}

    def public_key(self) -> str:
        """The application server key (uncompressed P-256 point, base64url)."""
        raw = self.vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(raw)

    def authorization(self, endpoint: str) -> str:
        """``vapid t=…,k=…`` for the endpoint's origin, signed once per origin and lifetime."""
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = self.clock()
        cached = self._tokens.get(audience)
        if cached is not None and cached[0] - TOKEN_RENEW_S > now:
            return cached[1]
        expires = int(now) + TOKEN_LIFETIME_S
        header: str = self.vapid.sign({"aud": audience, "exp": expires, "sub": self.subject})["Authorization"]
        self._tokens[audience] = (expires, header)
        return header

    @staticmethod
    def encrypt(subscription: Subscription, payload: bytes) -> bytes:
        """The RFC 8291 body: aes128gcm with a fresh sender key pair and salt per push."""
        assert subscription.p256dh is not None
        assert subscription.auth is not None
        body: bytes = http_ece.encrypt(
            payload,
            private_key=ec.generate_private_key(ec.SECP256R1()),
            dh=b64url_decode(subscription.p256dh),
            auth_secret=b64url_decode(subscription.auth),
            version="aes128gcm",
        )
        return body

    async def send(self, subscription: Subscription, payload: bytes, topic: str, urgency: str = "high") -> PushResult:
        """POST the encrypted payload to the endpoint (RFC 8030); the answer classified."""
        assert subscription.endpoint is not None
        headers = {
            "Authorization": self.authorization(subscription.endpoint),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(self.ttl_s),
            "Urgency": urgency,
            # A push service replaces an undelivered push with the same topic: a device that was away
            # gets the room's latest push, not a pile of them, and a push sent again is not shown twice.
            "Topic": topic,
        }
        try:
            response = await self.client.post(
                subscription.endpoint, content=self.encrypt(subscription, payload), headers=headers
            )
        except httpx.HTTPError:
            return PushResult(Outcome.RETRY)
        return classify(response, self.clock())
