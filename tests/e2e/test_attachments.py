"""The attachment journey through the gateway: a picture sent in a direct room — uploaded straight to the
store with the presigned URL, sent, thumbnailed by the worker — and an avatar that reaches the friends list."""

from __future__ import annotations

import io
from typing import Any

import httpx
from e2e_helpers import Api, User
from PIL import Image

from chat_shared.testing.waiting import eventually


def picture(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (250, 180, 20)).save(out, "JPEG")
    return out.getvalue()


async def put(upload: dict[str, Any], data: bytes) -> None:
    """The client's own upload, straight to the store (not through the gateway)."""
    async with httpx.AsyncClient(trust_env=False) as store:
        response = await store.put(upload["url"], content=data, headers=upload["headers"])
    assert response.status_code == 200, response.text


async def download(url: str) -> bytes:
    async with httpx.AsyncClient(trust_env=False, follow_redirects=True) as store:
        response = await store.get(url)
    assert response.status_code == 200, response.text
    return response.content


async def test_a_picture_goes_through_the_store_and_gets_a_thumbnail(api: Api) -> None:
    sender, reader = await api.new_user("pic_a"), await api.new_user("pic_b")
    await api.befriend(sender, reader)
    room_id = (await api.direct_room(sender, reader))["id"]
    data = picture(1024, 768)
    asked = await api.client.post(
        f"/api/rooms/{room_id}/attachments",
        json={"filename": "sunset.jpg", "content_type": "image/jpeg", "size": len(data)},
        headers=sender.auth,
    )
    assert asked.status_code == 201, asked.text
    await put(asked.json()["upload"], data)
    sent = await api.client.post(
        f"/api/rooms/{room_id}/messages",
        json={"message_type": "image", "attachment_id": asked.json()["attachment_id"], "content": "sunset"},
        headers=sender.auth,
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["attachment"]["width"] == 1024

    async def thumbnailed() -> dict[str, Any] | None:
        r = await api.client.get(f"/api/rooms/{room_id}/messages", headers=reader.auth)
        assert r.status_code == 200, r.text
        attachment: dict[str, Any] = r.json()["items"][-1]["attachment"]
        return attachment if attachment["thumbnail_url"] else None

    attachment = await eventually(thumbnailed, "the picture's thumbnail", timeout=10)
    assert await download(attachment["url"]) == data
    thumb = Image.open(io.BytesIO(await download(attachment["thumbnail_url"])))
    assert max(thumb.size) == 320


async def test_an_avatar_reaches_the_friends_list(api: Api) -> None:
    me, friend = await api.new_user("ava_a"), await api.new_user("ava_b")
    await api.befriend(me, friend)
    data = picture(300, 200)
    asked = await api.client.post(
        "/api/profile/me/avatar", json={"content_type": "image/jpeg", "size": len(data)}, headers=me.auth
    )
    assert asked.status_code == 201, asked.text
    await put(asked.json()["upload"], data)
    applied = await api.client.put(
        "/api/profile/me/avatar", json={"upload_id": asked.json()["upload_id"]}, headers=me.auth
    )
    assert applied.status_code == 200, applied.text
    avatar_url = applied.json()["avatar_url"]
    assert Image.open(io.BytesIO(await download(avatar_url))).size == (256, 256)

    async def listed(user: User = friend) -> bool:
        r = await api.client.get("/api/friends", headers=user.auth)
        return any(f["user_id"] == me.id and f.get("avatar_url") == avatar_url for f in r.json()["items"])

    await eventually(listed, "the avatar in the friend's list")
