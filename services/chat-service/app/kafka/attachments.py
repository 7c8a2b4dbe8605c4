"""The attachment worker: thumbnails of image messages, and the release of deleted messages' files.

Fed by ``message.events`` in its own consumer group, so the send never waits for an image to be decoded.
For a sent image it reads the upload, makes a WebP of at most 320 px on the longest side with Pillow in a
thread pool (the event loop keeps serving), stores it beside the upload, marks the message and stages a
``MessageEdited`` — the ``message.updated`` on members' streams that carries the new thumbnail. An image
Pillow refuses (broken, or over 40 megapixels) gets no thumbnail and is never retried; the worker goes on.
A redelivered event finds the message already marked and announces it again with the same version.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import metrics
from app.models.attachment import object_key, thumbnail_key
from app.repositories.attachments import AttachmentRepository
from app.repositories.message_attachments import mark_thumbnail
from app.services.views import message_out
from chat_shared import media
from chat_shared.consumer import Handlers
from chat_shared.events import EventEnvelope
from chat_shared.events.chat import MessageDeleted, MessageEdited, MessageSent
from chat_shared.outbox import Outbox
from chat_shared.storage import ObjectStore

log = structlog.get_logger("app.kafka.attachments")
ATTACHMENTS_GROUP = "chat-service.attachments"
THUMBNAIL_SIDE = 320


class AttachmentWorker:
    """Handlers of the attachment consumer group; owns the thread pool the images are decoded in."""

    def __init__(self, store: ObjectStore, outbox: Outbox, threads: int = 2) -> None:
        self.store = store
        self.outbox = outbox
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="thumbnail")

    def handlers(self) -> Handlers:
        return {MessageSent: self.on_sent, MessageDeleted: self.on_deleted}

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def on_sent(self, session: AsyncSession, event: MessageSent, _: EventEnvelope) -> None:
        attachment = event.message.attachment
        if attachment is None or attachment.thumbnail or attachment.content_type not in media.IMAGE_TYPES:
            return
        room_id = event.room_id
        try:
            data = await self.store.read(object_key(room_id, attachment.id))
        except self.store.client.exceptions.NoSuchKey:
            metrics.THUMBNAILS_MADE.labels("gone").inc()  # swept with its deleted message meanwhile
            return
        loop = asyncio.get_running_loop()
        try:
            thumb, _size = await loop.run_in_executor(self.pool, media.thumbnail, data, THUMBNAIL_SIDE)
        except media.BadImage as exc:
            metrics.THUMBNAILS_MADE.labels("refused").inc()
            log.info("thumbnail_refused", room_id=room_id, attachment_id=attachment.id, reason=str(exc))
            return
        await self.store.write(thumbnail_key(room_id, attachment.id), thumb, "image/webp")
        message = await mark_thumbnail(event.message.id)
        if message is None or message.deleted or message.attachment is None:
            return
        self.outbox.add(session, MessageEdited.of(message_out(message)))
        metrics.THUMBNAILS_MADE.labels("made").inc()
        age = (datetime.now(UTC) - event.message.created_at).total_seconds()
        metrics.THUMBNAIL_LATENCY.observe(max(0.0, age))

    async def on_deleted(self, session: AsyncSession, event: MessageDeleted, envelope: EventEnvelope) -> None:
        await AttachmentRepository(session).release(event.message.id, envelope.occurred_at)
