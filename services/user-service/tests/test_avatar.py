"""CONTRACT §9 avatars: a presigned upload to the embedded S3 store, then a 256 px square under a
content-addressed key, ``avatar_url`` set and announced; refusals change nothing."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image

from app.core.state import State
from app.services.avatar_service import avatar_key
from chat_shared.testing.broker import read_events

from .conftest import auth_headers


def picture(width: int = 640, height: int = 480, kind: str = "JPEG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, kind)
    return out.getvalue()


async def _upload(client: httpx.AsyncClient, headers: dict[str, str], data: bytes, content_type: str) -> str:
    asked = await client.post(
        "/profile/me/avatar", json={"content_type": content_type, "size": len(data)}, headers=headers
    )
    assert asked.status_code == 201, asked.text
    upload = asked.json()["upload"]
    async with httpx.AsyncClient() as store:
        put = await store.put(upload["url"], content=data, headers=upload["headers"])
    assert put.status_code == 200, put.text
    return str(asked.json()["upload_id"])


async def test_avatar_upload_sets_avatar_url(client: httpx.AsyncClient, state: State, kafka_bootstrap: str) -> None:
    me, headers = await auth_headers(client)
    upload_id = await _upload(client, headers, picture(), "image/jpeg")
    response = await client.put("/profile/me/avatar", json={"upload_id": upload_id}, headers=headers)
    assert response.status_code == 200, response.text
    url = response.json()["avatar_url"]
    assert url.startswith(state.settings.avatar_base_url + "/") and url.endswith(".webp")
    # The URL is stable; it redirects to a presigned URL of the square.
    name = url.rsplit("/", 1)[-1]
    redirect = await client.get(f"/users/avatars/{name}")
    assert redirect.status_code == 307
    async with httpx.AsyncClient() as store:
        stored = await store.get(redirect.headers["location"])
    assert stored.status_code == 200
    square = Image.open(io.BytesIO(stored.content))
    assert square.format == "WEBP" and square.size == (256, 256)
    assert await state.store.head(avatar_key(name.removesuffix(".webp"))) is not None
    # Public profile and the event carry it.
    assert (await client.get(f"/users/{me['id']}", headers=headers)).json()["avatar_url"] == url

    def announced(events: list[dict[str, Any]]) -> bool:
        return any(
            e.get("event_type") == "UserProfileUpdated"
            and e["payload"]["user_id"] == me["id"]
            and e["payload"]["avatar_url"] == url
            for e in events
        )

    await read_events(kafka_bootstrap, "user.events", announced)
    # A retry of the same upload sets the same avatar; the same picture again is the same object.
    retry = await client.put("/profile/me/avatar", json={"upload_id": upload_id}, headers=headers)
    assert retry.status_code == 200 and retry.json()["avatar_url"] == url
    again = await _upload(client, headers, picture(), "image/jpeg")
    assert (await client.put("/profile/me/avatar", json={"upload_id": again}, headers=headers)).json()[
        "avatar_url"
    ] == url


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"content_type": "application/pdf", "size": 100}, 422),
        ({"content_type": "image/png", "size": 5 * 1024 * 1024 + 1}, 413),
        ({"content_type": "image/png", "size": 0}, 422),
        ({"content_type": "image/png", "size": 10, "key": "x"}, 422),
    ],
)
async def test_avatar_declarations_outside_the_rules(
    client: httpx.AsyncClient, body: dict[str, Any], status: int
) -> None:
    _, headers = await auth_headers(client)
    assert (await client.post("/profile/me/avatar", json=body, headers=headers)).status_code == status


async def test_avatar_uploads_must_hold_what_was_declared(client: httpx.AsyncClient) -> None:
    me, headers = await auth_headers(client)
    _, other_headers = await auth_headers(client)
    exe = b"MZ\x90\x00" + b"\x00" * 300
    renamed = await _upload(client, headers, exe, "image/png")
    assert (await client.put("/profile/me/avatar", json={"upload_id": renamed}, headers=headers)).status_code == 422
    mine = await _upload(client, headers, picture(kind="PNG"), "image/png")
    theirs = await client.put("/profile/me/avatar", json={"upload_id": mine}, headers=other_headers)
    assert theirs.status_code == 422
    asked = await client.post("/profile/me/avatar", json={"content_type": "image/png", "size": 50}, headers=headers)
    early = await client.put("/profile/me/avatar", json={"upload_id": asked.json()["upload_id"]}, headers=headers)
    assert early.status_code == 409 and early.json()["detail"] == "upload not found"
    assert (await client.get("/profile/me", headers=headers)).json()["avatar_url"] is None
    assert me["avatar_url"] is None
