"""CONTRACT §10 through the gateway of `make dev`: the welcome mail reaches the SMTP sink, and an offline
member's browser subscription receives an encrypted push it can decrypt. Needs the dev system this session
starts (its mail folder and its loopback flag), so it is skipped against a running system (``E2E_BASE_URL``)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import http_ece
import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from e2e_helpers import Api
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chat_shared.testing.waiting import eventually

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import devstack

pytestmark = pytest.mark.skipif(bool(os.environ.get("E2E_BASE_URL")), reason="needs the session's own dev system")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Browser:
    """A browser's push subscription and the push service in front of it, on loopback."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.payloads: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/push", self.push, methods=["POST"])])

    async def push(self, request: Request) -> Response:
        plain = http_ece.decrypt(await request.body(), private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        self.payloads.append(json.loads(plain))
        return Response(status_code=201)

    def subscription(self, url: str) -> dict[str, Any]:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "type": "webpush",
            "endpoint": f"{url}/push",
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)},
        }


@pytest.fixture
async def browser() -> AsyncIterator[tuple[Browser, str]]:
    b = Browser()
    server = uvicorn.Server(uvicorn.Config(b.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, "the push receiver to listen")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield b, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_registering_sends_the_welcome_mail(api: Api, dev_stack: devstack.DevStack) -> None:
    user = await api.new_user("mail")
    folder = dev_stack.data_dir / "mail"

    def mail() -> list[Path]:
        return sorted(folder.glob(f"*-{user.email}.eml")) if folder.is_dir() else []

    [path] = await eventually(mail, "the welcome mail in the sink's folder")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert "Welcome to BigTech Chat" in str(message["Subject"])
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None


async def _greater(value: Any, floor: float) -> bool:
    return bool(await value > floor)


async def _rooms_replicated(stack: devstack.DevStack | None) -> float:
    """How many ``RoomCreated`` notification-service's replica has handled (0 without a local stack)."""
    if stack is None:
        return 0.0
    async with httpx.AsyncClient(trust_env=False) as client:
        text = (await client.get(f"{stack.services['notification-service']}/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "events_consumed_total"
        and sample.labels.get("topic") == "chat.events"
        and sample.labels.get("event_type") == "RoomCreated"
    )


async def test_an_offline_friend_gets_an_encrypted_push(
    api: Api, browser: tuple[Browser, str], dev_stack: devstack.DevStack | None
) -> None:
    receiver, url = browser
    alice, bob = await api.new_user("alice"), await api.new_user("bob")
    key = await api.client.get("/api/notifications/vapid-public-key")
    assert key.status_code == 200 and len(key.json()["public_key"]) == 87
    subscribed = await api.client.post(
        "/api/notifications/subscriptions", json=receiver.subscription(url), headers=bob.auth
    )
    assert subscribed.status_code == 201, subscribed.text
    refused = await api.client.post(
        "/api/notifications/subscriptions",
        json={**receiver.subscription(url), "endpoint": "https://push.example.com/x"},
        headers=bob.auth,
    )
    assert refused.status_code == 422
    await api.befriend(alice, bob)
    before = await _rooms_replicated(dev_stack)
    room = await api.direct_room(alice, bob)
    # Room and message events travel on different topics: the push is decided only for members the
    # replica already knows, so the message goes once the room has reached it.
    if dev_stack is not None:
        await eventually(lambda: _greater(_rooms_replicated(dev_stack), before), "the room in the replica", timeout=60)

    sent = await api.send(alice, room["id"], "hello bob")
    assert sent.status_code == 201, sent.text

    [payload] = await eventually(lambda: receiver.payloads, "bob's push", timeout=60)
    assert payload["room_id"] == room["id"] and payload["message_id"] == sent.json()["id"]
    assert payload["sender"]["id"] == alice.id and payload["preview"] == "hello bob" and payload["count"] == 1
