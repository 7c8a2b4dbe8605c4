"""A Web Push service on loopback, as a browser's push service would be: it checks the VAPID header (RFC
8292), keeps each subscription's private key and auth secret as the browser would, and decrypts every push
(RFC 8291, aes128gcm) with them. Each subscription can be told how to answer (410, 503 …)."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.server import LocalServer


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Browser:
    """One subscription's secrets, as the browser holds them."""

    name: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    #: Statuses to answer before accepting (e.g. ``[503, 503]``), and headers to add to them.
    answers: list[int] = field(default_factory=list)
    answer_headers: dict[str, str] = field(default_factory=dict)
    #: Answer every push with this status (e.g. 410) instead.
    always: int | None = None

    def keys(self) -> dict[str, str]:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"p256dh": b64url(point), "auth": b64url(self.auth)}


@dataclass
class Received:
    name: str
    #: The decrypted payload; empty for a push that was not sampled (see ``PushReceiver.sample``).
    payload: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.time)


class PushReceiver(LocalServer):
    """``POST /push/{name}``: the endpoint of the subscription ``name``."""

    def __init__(self, sample: int = 1) -> None:
        self.app = Starlette(routes=[Route("/push/{name}", self.push, methods=["POST"])])
        #: Decrypt every ``sample``-th push only (a load test's receiver must not be the bottleneck).
        self.sample = sample
        self._seen = 0
        self.browsers: dict[str, Browser] = {}
        self.received: list[Received] = []
        self.attempts: dict[str, int] = {}

    def reset(self) -> None:
        self.browsers.clear()
        self.received.clear()
        self.attempts.clear()

    def browser(self, name: str) -> Browser:
        """A new subscription's secrets (a fresh P-256 key pair and auth secret)."""
        import os

        b = Browser(name, ec.generate_private_key(ec.SECP256R1()), os.urandom(16))
        self.browsers[name] = b
        return b

    def subscription(self, name: str) -> dict[str, Any]:
        """The body a browser would POST to ``/notifications/subscriptions``."""
        b = self.browsers.get(name) or self.browser(name)
        return {"type": "webpush", "endpoint": f"{self.url}/push/{name}", "keys": b.keys()}

    def of(self, name: str) -> list[dict[str, Any]]:
        """The decrypted payloads ``name`` received, in order."""
        return [r.payload for r in self.received if r.name == name]

    async def push(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.attempts[name] = self.attempts.get(name, 0) + 1
        browser = self.browsers.get(name)
        if browser is None:
            return Response(status_code=404)
        authorization = request.headers.get("authorization", "")
        sampled = (self._seen + 1) % self.sample == 0
        if not authorization.startswith("vapid ") or (sampled and not Vapid02.verify(authorization)):
            return Response(status_code=403)
        if browser.always is not None:
            return Response(status_code=browser.always)
        if browser.answers:
            return Response(status_code=browser.answers.pop(0), headers=browser.answer_headers)
        if request.headers.get("content-encoding") != "aes128gcm" or "ttl" not in request.headers:
            return Response(status_code=400)
        body = await request.body()
        self._seen += 1
        payload: dict[str, Any] = {}
        if sampled:
            plain = http_ece.decrypt(
                body, private_key=browser.private_key, auth_secret=browser.auth, version="aes128gcm"
            )
            payload = json.loads(plain)
        self.received.append(Received(name, payload, dict(request.headers)))
        return Response(status_code=201)
