"""CONTRACT §9: attachments through the embedded S3 store — real HTTP uploads to presigned URLs, verified sends,
thumbnails made by the worker and announced on the stream, URLs only for members, refusals that leave nothing."""

from __future__ import annotations

import asyncio
import io
import struct
import zlib
from datetime import timedelta
from typing import Any

import httpx
import pytest
from PIL import Image

from app.core.state import State
from app.models.attachment import Attachment, AttachmentState, object_key, thumbnail_key
from app.services.sweeper import AttachmentSweeper
from chat_shared.db import utcnow
from chat_shared.testing.s3 import SettableClock
from chat_shared.testing.sse import open_stream
from chat_shared.testing.tokens import TestKeys as Keys
from chat_shared.testing.waiting import eventually
from tests.support import UvicornServer, befriend, dm, new_user


def png(width: int = 800, height: int = 600) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 90)).save(out, "PNG")
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` (no pixels follow): what a decompression bomb looks like."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


async def _room(state: State, client: httpx.AsyncClient, keys: Keys) -> tuple[int, int, int]:
    a, b = new_user(), new_user()
    await befriend(state, a, b)
    return a, b, await dm(client, keys, a, b)


async def _upload(
    client: httpx.AsyncClient, keys: Keys, user: int, room: int, data: bytes, content_type: str, name: str = "f"
) -> str:
    """Ask for an upload and PUT the bytes to the store over real HTTP; the attachment id."""
    asked = await client.post(
        f"/rooms/{room}/attachments",
        json={"filename": name, "content_type": content_type, "size": len(data)},
        headers=keys.headers(user),
    )
    assert asked.status_code == 201, asked.text
    body = asked.json()
    assert body["upload"]["method"] == "PUT" and body["expires_in"] > 0
    async with httpx.AsyncClient() as store:
        put = await store.put(body["upload"]["url"], content=data, headers=body["upload"]["headers"])
    assert put.status_code == 200, put.text
    return str(body["attachment_id"])


async def _send_file(
    client: httpx.AsyncClient, keys: Keys, user: int, room: int, attachment_id: str, kind: str = "image", **extra: Any
) -> httpx.Response:
    return await client.post(
        f"/rooms/{room}/messages",
        json={"message_type": kind, "attachment_id": attachment_id, **extra},
        headers=keys.headers(user),
    )


async def _download(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as store:
        return await store.get(url)


async def _history(client: httpx.AsyncClient, keys: Keys, user: int, room: int) -> list[dict[str, Any]]:
    response = await client.get(f"/rooms/{room}/messages", headers=keys.headers(user))
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_image_message_round_trip_with_thumbnail(
    state: State, client: httpx.AsyncClient, server: UvicornServer, keys: Keys
) -> None:
    a, b, room = await _room(state, client, keys)
    picture = png(800, 600)
    attachment_id = await _upload(client, keys, a, room, picture, "image/png", "cat.png")
    async with open_stream(server.url, headers=keys.headers(b)) as sse:
        sent = await _send_file(client, keys, a, room, attachment_id, content="look")
        assert sent.status_code == 201, sent.text
        message = sent.json()
        attachment = message["attachment"]
        assert message["message_type"] == "image" and message["content"] == "look"
        assert {k: attachment[k] for k in ("id", "filename", "content_type", "size", "width", "height")} == {
            "id": attachment_id,
            "filename": "cat.png",
            "content_type": "image/png",
            "size": len(picture),
            "width": 800,
            "height": 600,
        }
        assert attachment["thumbnail_url"] is None and "thumbnail" not in attachment
        downloaded = await _download(attachment["url"])
        assert downloaded.status_code == 200 and downloaded.content == picture
        assert 'filename="cat.png"' in downloaded.headers["content-disposition"]

        created = await sse.until(lambda e: e.event == "message.created", "the image message")
        assert created.data["message"]["attachment"]["url"]
        # The worker makes the thumbnail off the request path and announces it (CONTRACT: within 10 s).
        updated = await sse.until(
            lambda e: e.event == "message.updated" and bool(e.data["message"]["attachment"]["thumbnail_url"]),
            "the thumbnail's message.updated",
            timeout=10,
        )
    assert updated.data["message"]["version"] == message["version"] + 1
    thumb = await _download(updated.data["message"]["attachment"]["thumbnail_url"])
    assert thumb.status_code == 200
    image = Image.open(io.BytesIO(thumb.content))
    assert image.format == "WEBP" and max(image.size) == 320 and image.size == (320, 240)
    # The room list's last message and the room itself carry URLs too.
    listed = (await client.get("/rooms", headers=keys.headers(b))).json()["items"]
    [last] = [r["last_message"] for r in listed if r["id"] == room]
    assert last["attachment"]["url"] and last["attachment"]["thumbnail_url"]
    read = (await client.get(f"/rooms/{room}", headers=keys.headers(b))).json()
    assert read["last_message"]["attachment"]["url"]
    # History, read by the other member, mints fresh URLs for both objects.
    [shown] = await _history(client, keys, b, room)
    assert shown["attachment"]["thumbnail_url"] and (await _download(shown["attachment"]["url"])).content == picture


async def test_file_message_downloads_the_same_bytes(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, b, room = await _room(state, client, keys)
    attachment_id = await _upload(client, keys, a, room, PDF, "application/pdf", "보고서 v2.pdf")
    key = object_key(room, attachment_id)

    async def tags() -> list[dict[str, str]]:
        found = await state.store.client.get_object_tagging(Bucket=state.store.bucket, Key=key)
        return [{"Key": t["Key"], "Value": t["Value"]} for t in found["TagSet"]]

    # Until a message refers to it, the upload carries the tag the bucket's lifecycle rule expires.
    assert await tags() == [{"Key": "bigtech-state", "Value": "pending"}]
    sent = await _send_file(client, keys, a, room, attachment_id, kind="file")
    assert sent.status_code == 201, sent.text
    assert await tags() == []
    assert sent.json()["content"] is None and sent.json()["attachment"]["width"] is None
    [shown] = await _history(client, keys, b, room)
    downloaded = await _download(shown["attachment"]["url"])
    assert downloaded.content == PDF
    assert "filename*=UTF-8''%EB%B3%B4%EA%B3%A0%EC%84%9C%20v2.pdf" in downloaded.headers["content-disposition"]
    # An image may go as a file; a PDF may not go as an image.
    other = await _upload(client, keys, a, room, PDF, "application/pdf")
    refused = await _send_file(client, keys, a, room, other, kind="image")
    assert refused.status_code == 422, refused.text


async def test_a_search_finds_a_caption_and_mints_its_attachments_urls(
    state: State, client: httpx.AsyncClient, keys: Keys
) -> None:
    a, b, room = await _room(state, client, keys)
    attachment_id = await _upload(client, keys, a, room, PDF, "application/pdf", "minutes.pdf")
    sent = await _send_file(client, keys, a, room, attachment_id, kind="file", content="회의록 attached")
    assert sent.status_code == 201, sent.text
    for path in (f"/rooms/{room}/messages/search", "/messages/search"):
        found = await client.get(path, params={"q": "회의"}, headers=keys.headers(b))
        assert found.status_code == 200, found.text
        [hit] = found.json()["items"]
        assert (await _download(hit["message"]["attachment"]["url"])).content == PDF


async def test_non_members_get_no_url_and_expired_urls_are_refused(
    state: State, client: httpx.AsyncClient, keys: Keys, s3_clock: SettableClock
) -> None:
    a, _, room = await _room(state, client, keys)
    stranger = new_user()
    attachment_id = await _upload(client, keys, a, room, PDF, "application/pdf")
    url = (await _send_file(client, keys, a, room, attachment_id, kind="file")).json()["attachment"]["url"]
    assert (await client.get(f"/rooms/{room}/messages", headers=keys.headers(stranger))).status_code == 403
    asked = await client.post(
        f"/rooms/{room}/attachments",
        json={"filename": "x.pdf", "content_type": "application/pdf", "size": 10},
        headers=keys.headers(stranger),
    )
    assert asked.status_code == 403
    # A URL minted for a member stops working when it expires: the store refuses it.
    s3_clock.offset = state.settings.s3_download_ttl_s + 1
    try:
        expired = await _download(url)
    finally:
        s3_clock.offset = 0
    assert expired.status_code == 403 and "Request has expired" in expired.text
    assert (await _download(url)).status_code == 200


async def test_uploads_must_hold_what_was_declared(state: State, client: httpx.AsyncClient, keys: Keys) -> None:
    a, _, room = await _room(state, client, keys)
    # The renamed .exe: the store takes the bytes (type and length match the signature), the send refuses them.
    exe = await _upload(client, keys, a, room, EXE, "image/png", "cat.png")
    refused = await _send_file(client, keys, a, room, exe)
    assert refused.status_code == 422 and "is not image/png" in refused.text
    # A broken image and a decompression bomb (a header claiming 100 megapixels) are refused at the send.
    broken = await _upload(client, keys, a, room, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")
    assert (await _send_file(client, keys, a, room, broken)).status_code == 422
    bomb = await _upload(client, keys, a, room, png_header(10_000, 10_000), "image/png")
    refused = await _send_file(client, keys, a, room, bomb)
    assert refused.status_code == 422 and "megapixels" in refused.text
    # Text is text: a NUL byte makes it binary.
    binary = await _upload(client, keys, a, room, EXE, "text/plain")
    assert (await _send_file(client, keys, a, room, binary, "file")).status_code == 422
    # The store itself refuses bytes other than the signed type or length.
    asked = await client.post(
        f"/rooms/{room}/attachments",
        json={"filename": "a.png", "content_type": "image/png", "size": 100},
        headers=keys.headers(a),
    )
    upload = asked.json()["upload"]
    async with httpx.AsyncClient() as store:
        longer = await store.put(upload["url"], content=b"x" * 101, headers={"Content-Type": "image/png"})
        retyped = await store.put(upload["url"], content=b"x" * 100, headers={"Content-Type": "image/gif"})
    assert longer.status_code == 403 and retyped.status_code == 403
    # Sending before the upload finished.
    early = await _send_file(client, keys, a, room, asked.json()["attachment_id"])
    assert early.status_code == 409 and early.json()["detail"] == "upload not found"
    # Nothing half-done: no refused send left a message.
    assert await _history(client, keys, a, room) == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"filename": "run.exe", "content_type": "application/x-msdownload", "size": 10}, 422),
        ({"filename": "a.png", "content_type": "image/png", "size": 10 * 1024 * 1024 + 1}, 413),
        ({"filename": "a.zip", "content_type": "application/zip", "size": 25 * 1024 * 1024 + 1}, 413),
        ({"filename": "a.png", "content_type": "image/png", "size": 0}, 422),
        ({"filename": "../", "content_type": "image/png", "size": 10}, 422),
        ({"filename": "a.png", "content_type": "image/png", "size": 10, "key": "x"}, 422),
    ],
)
async def test_declarations_outside_the_rules_are_refused(
    state: State, client: httpx.AsyncClient, keys: Keys, body: dict[str, Any], status: int
) -> None:
    a, _, room = await _room(state, client, keys)
    response = await client.post(f"/rooms/{room}/attachments", json=body, headers=keys.headers(a))
    assert response.status_code == status, response.text


async def test_attachments_belong_to_their_room_and_uploader(
    state: State, client: httpx.AsyncClient, keys: Keys
) -> None:
    a, b, room = await _room(state, client, keys)
    c = new_user()
    await befriend(state, a, c)
    other_room = await dm(client, keys, a, c)
    attachment_id = await _upload(client, keys, a, room, PDF, "application/pdf")
    elsewhere = await _send_file(client, keys, a, other_room, attachment_id, kind="file")
    as_someone_else = await _send_file(client, keys, b, room, attachment_id, kind="file")
    assert elsewhere.status_code == 422 and as_someone_else.status_code == 422
    assert (await _send_file(client, keys, a, room, attachment_id, kind="file")).status_code == 201
    reused = await _send_file(client, keys, a, room, attachment_id, kind="file")
    assert reused.status_code == 409
    # Malformed combinations.
    for body in (
        {"message_type": "image"},
        {"message_type": "text", "content": "hi", "attachment_id": attachment_id},
        {"message_type": "file", "attachment_id": "not-an-id"},
    ):
        response = await client.post(f"/rooms/{room}/messages", json=body, headers=keys.headers(a))
        assert response.status_code == 422, (body, response.text)


async def test_an_image_the_worker_cannot_decode_gets_no_thumbnail_and_the_worker_goes_on(
    state: State, client: httpx.AsyncClient, keys: Keys
) -> None:
    a, b, room = await _room(state, client, keys)
    # A valid header over a truncated body: the send accepts it, the decoder cannot.
    truncated = png(400, 400)[:80]
    bad = await _send_file(client, keys, a, room, await _upload(client, keys, a, room, truncated, "image/png"))
    assert bad.status_code == 201, bad.text
    good = await _send_file(client, keys, a, room, await _upload(client, keys, a, room, png(64, 32), "image/png"))

    async def good_has_thumbnail() -> bool:
        items = await _history(client, keys, b, room)
        return bool(items[-1]["attachment"]["thumbnail_url"])

    await eventually(good_has_thumbnail, "the later image's thumbnail", timeout=10)
    items = await _history(client, keys, b, room)
    assert items[0]["id"] == bad.json()["id"] and items[0]["attachment"]["thumbnail_url"] is None
    assert items[1]["id"] == good.json()["id"]
    thumb = Image.open(io.BytesIO((await _download(items[1]["attachment"]["thumbnail_url"])).content))
    assert thumb.size == (64, 32)  # never enlarged


async def _row(state: State, attachment_id: str) -> Attachment | None:
    async with state.sessionmaker() as session:
        return await session.get(Attachment, attachment_id)


async def test_sweeper_removes_unused_uploads_and_deleted_messages_files(
    state: State, client: httpx.AsyncClient, keys: Keys
) -> None:
    a, _, room = await _room(state, client, keys)
    unused = await _upload(client, keys, a, room, PDF, "application/pdf")
    image = await _upload(client, keys, a, room, png(100, 100), "image/png")
    message = (await _send_file(client, keys, a, room, image)).json()
    store = state.store
    await eventually(lambda: store.head(thumbnail_key(room, image)), "the thumbnail")

    def sweeper(after: timedelta) -> AttachmentSweeper:
        return AttachmentSweeper(state.sessionmaker, store, clock=lambda: utcnow() + after)

    # Nothing is due yet: an hour-old upload and a live message's files stay.
    await sweeper(timedelta(hours=1)).sweep()
    assert await store.head(object_key(room, unused)) and await store.head(object_key(room, image))
    # After a day the unused upload goes, row and object; two replicas sweeping at once do it once.
    late = timedelta(hours=24, minutes=1)
    await asyncio.gather(sweeper(late).sweep(), sweeper(late).sweep())
    assert await store.head(object_key(room, unused)) is None and await _row(state, unused) is None
    assert await store.head(object_key(room, image)) is not None  # a message still has it
    # Deleting the message releases its files; they go once the grace period is over.
    deleted = await client.delete(f"/rooms/{room}/messages/{message['id']}", headers=keys.headers(a))
    assert deleted.status_code == 204

    async def released() -> bool:
        row = await _row(state, image)
        return row is not None and row.state == AttachmentState.RELEASED

    await eventually(released, "the deleted message's attachment released")
    await sweeper(timedelta(0)).sweep()
    assert await store.head(object_key(room, image)) is not None  # within the grace period
    await sweeper(timedelta(seconds=state.settings.attachment_release_grace_s + 1)).sweep()
    assert await store.head(object_key(room, image)) is None and await store.head(thumbnail_key(room, image)) is None
    assert await _row(state, image) is None
    [shown] = await _history(client, keys, a, room)
    assert shown["deleted"] is True and shown["attachment"] is None
