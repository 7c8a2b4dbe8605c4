"""Messages: durable, idempotent send with a per-room seq; history; edit; soft delete; reactions.

The send path (why a 201 is never lost, and what happens to a document whose transaction fails) is
described in docs/chat-service.md, "Durable send".
"""

from __future__ import annotations

from dataclasses import dataclass

from bson import ObjectId
from pymongo.errors import DuplicateKeyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import metrics
from app.models.message import MAX_DISTINCT_REACTIONS, MAX_REACTIONS, Message, QuotedRef
from app.models.room import DIRECT, Room, RoomMember
from app.repositories.messages import MessageRepository, Reacted
from app.repositories.rooms import RoomRepository
from app.repositories.users import UserRepository
from app.schemas.message import MessageCreate, MessageOut, MessagePage
from app.services.attachment_service import AttachmentService, Verified
from app.services.permissions import Permissions
from app.services.text import excerpt, grams, mentioned_names
from app.services.views import message_out
from chat_shared.db import utcnow
from chat_shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from chat_shared.events.chat import MessageDeleted, MessageEdited, MessageSent, ReactionsChanged
from chat_shared.outbox import Outbox


@dataclass(frozen=True, slots=True)
class Sent:
    """The outcome of a send: the message, and whether this send stored it (False: a retry, the original)."""

    message: MessageOut
    created: bool


@dataclass
class MessageService:
    """Message use cases, bound to one request's session."""

    session: AsyncSession
    outbox: Outbox
    permissions: Permissions
    #: Image and file messages' uploads (None: a service that sends text only).
    attachments: AttachmentService | None = None

    @property
    def repo(self) -> MessageRepository:
        return MessageRepository()

    async def _check_can_write(self, room: Room, user_id: int) -> None:
        """In a direct room, a block (either way) stops new messages; history stays readable."""
        if room.type != DIRECT or not room.pair_key:
            return
        low, high = (int(p) for p in room.pair_key.split(":"))
        other = high if low == user_id else low
        if await self.permissions.blocked_between(user_id, other):
            raise Forbidden("You cannot message this user")

    async def _quote(self, room: Room, message_id: str) -> QuotedRef:
        """The reference a reply keeps to the message it quotes: a visible, not deleted message of the room."""
        quoted = await self.repo.get(room.id, message_id, room.last_seq)
        if quoted is None or quoted.deleted:
            raise Unprocessable("reply_to must be a message of this room that is not deleted", loc=("body", "reply_to"))
        return QuotedRef(
            id=str(quoted.id),
            seq=quoted.seq,
            sender_id=quoted.sender_id,
            excerpt=excerpt(quoted.content),
            v=quoted.version,
        )

    async def _mentions(self, room: Room, content: str | None) -> list[int]:
        """The current members the content (or an attachment's caption) names by ``@username``, in order of
        first mention."""
        if not content:
            return []
        names = mentioned_names(content)
        found = await UserRepository(self.session).members_named(room.id, names)
        return list(dict.fromkeys(found[n] for n in names if n in found))

    async def _settle_quote(self, message: Message) -> Message:
        """A reply whose quoted message changed between the check and the insert takes its current excerpt
        (an edit or deletion that ran meanwhile may have missed the new reply)."""
        quote = message.reply_to
        if quote is None:
            return message
        current = await self.repo.get(message.room_id, quote.id, message.seq)
        if current is None or current.version <= quote.v:
            return message
        text = None if current.deleted else excerpt(current.content)
        await self.repo.refresh_quotes(current, text, reply_id=message.id)
        return await self.repo.get(message.room_id, str(message.id), message.seq) or message

    async def send(self, room: Room, member: RoomMember, body: MessageCreate) -> Sent:
        """Store a message. A known ``client_msg_id`` gives the original back instead (not created)."""
        user_id = member.user_id
        if body.client_msg_id is not None:
            # Fast path for retries: no lock needed when the original committed long ago.
            found = await self.repo.by_dedupe(room.id, user_id, body.client_msg_id)
            if found is not None and found.seq <= room.last_seq:
                return Sent(message_out(found), created=False)
        await self._check_can_write(room, user_id)
        quote = await self._quote(room, body.reply_to) if body.reply_to is not None else None
        mentions = await self._mentions(room, body.content)
        # The upload is checked before the room's lock is taken: the store's round trips never hold it.
        attached = await self._verify_attachment(room, user_id, body)
        now = utcnow()
        # A retry that commits while this send waits for the room's lock is only seen once the seq is
        # taken: rolling back to the savepoint gives that seq back.
        savepoint = await self.session.begin_nested()
        seq = await RoomRepository(self.session).allocate_seq(room, now)  # row lock on the room until our commit
        committed = seq - 1
        oid = ObjectId()
        if attached is not None:
            assert self.attachments is not None
            await self.attachments.bind(attached, str(oid))
        message = Message(
            id=oid,
            room_id=room.id,
            seq=seq,
            sender_id=user_id,
            content=body.content,
            message_type=body.message_type,
            client_msg_id=body.client_msg_id,
            dedupe_key=body.client_msg_id or f"~{oid}",
            created_at=now,
            version=1,
            reply_to=quote,
            mentions=mentions,
            grams=grams(body.content) if body.content else [],
            attachment=attached.ref if attached else None,
        )
        try:
            await self.repo.insert(message)
        except DuplicateKeyError:
            # The unique (room, sender, dedupe key) index catches a concurrent retry that committed while we
            # waited for the lock, so no second lookup is needed on the common path.
            if body.client_msg_id is not None:
                found = await self.repo.by_dedupe(room.id, user_id, body.client_msg_id)
                if found is not None and found.seq <= committed:
                    await savepoint.rollback()
                    return Sent(message_out(found), created=False)
            # Otherwise only an orphan (a document of a send whose transaction rolled back) can hold a seq
            # above the committed one or our dedupe key while we hold the lock: remove it and retry once.
            await self.repo.delete_orphans(room.id, committed)
            message = Message(**{**message.model_dump(), "id": oid, "revision_id": None})
            await self.repo.insert(message)
        await savepoint.commit()
        message = await self._settle_quote(message)
        out = message_out(message)
        self.outbox.add(self.session, MessageSent.of(out))
        metrics.MESSAGES_SENT.labels(body.message_type).inc()
        return Sent(out, created=True)

    async def _verify_attachment(self, room: Room, user_id: int, body: MessageCreate) -> Verified | None:
        if body.attachment_id is None:
            return None
        if self.attachments is None:
            raise RuntimeError("this message service takes no attachments")
        return await self.attachments.verify(room.id, user_id, body.attachment_id, body.message_type)

    async def history(self, room: Room, *, before: int | None, after: int | None, limit: int) -> MessagePage:
        """A page in ascending seq; ``next_cursor`` is the ``before`` (or ``after``) of the next page."""
        items = await self.repo.page(room.id, room.last_seq, before=before, after=after, limit=limit)
        cursor: int | None = None
        if len(items) == limit:
            if after is not None:
                cursor = items[-1].seq if items[-1].seq < room.last_seq else None
            elif items[0].seq > 1:
                cursor = items[0].seq
        return MessagePage(items=[message_out(m) for m in items], next_cursor=cursor)

    async def _own(self, room: Room, message_id: str, user_id: int) -> Message:
        message = await self.repo.get(room.id, message_id, room.last_seq)
        if message is None:
            raise NotFound("Message not found")
        if message.sender_id != user_id:
            raise Forbidden("Only the sender can change a message")
        return message

    # Edit, delete and reactions write Mongo before the request's transaction commits their event. When that
    # commit fails, the change stays and the client retries; so each of them stages its event whenever the
    # message is in the asked state, changed now or earlier, and a retry always publishes. An event repeated
    # this way carries the same version, by which consumers tell it apart from a change.

    async def edit(self, room: Room, message_id: str, user_id: int, content: str) -> MessageOut:
        """Change the content (sender only); sets ``edited_at``."""
        message = await self._own(room, message_id, user_id)
        if message.deleted:
            raise Conflict("The message was deleted")
        await self._check_can_write(room, user_id)
        mentions = await self._mentions(room, content)
        updated = await self.repo.set_content(message, content, utcnow(), mentions, grams(content))
        if updated is None:
            raise NotFound("Message not found")
        if updated.deleted:
            raise Conflict("The message was deleted")
        await self.repo.refresh_quotes(updated, excerpt(updated.content))
        out = message_out(updated)
        self.outbox.add(self.session, MessageEdited.of(out))
        return out

    async def delete(self, room: Room, message_id: str, user_id: int) -> None:
        """Soft delete (sender only); repeating it changes nothing and announces the deletion again."""
        message = await self._own(room, message_id, user_id)
        deleted = await self.repo.soft_delete(message)
        if deleted is None:
            raise NotFound("Message not found")
        await self.repo.refresh_quotes(deleted, None)
        self.outbox.add(self.session, MessageDeleted.of(message_out(deleted)))

    async def react(self, room: Room, message_id: str, user_id: int, emoji: str, add: bool) -> MessageOut:
        """Add or remove the caller's reaction; idempotent, within the message's reaction limits."""
        message = await self.repo.get(room.id, message_id, room.last_seq)
        if message is None:
            raise NotFound("Message not found")
        if message.deleted:
            raise Conflict("The message was deleted")
        if add:
            await self._check_can_write(room, user_id)
        outcome, updated = await self.repo.react(message.id, emoji, user_id, add)
        match outcome:
            case Reacted.MISSING:
                raise NotFound("Message not found")
            case Reacted.DELETED:
                raise Conflict("The message was deleted")
            case Reacted.TOO_MANY_EMOJI:
                raise Conflict(f"A message has at most {MAX_DISTINCT_REACTIONS} different reactions")
            case Reacted.TOO_MANY_REACTIONS:
                raise Conflict(f"A message has at most {MAX_REACTIONS} reactions")
            case Reacted.CONTENDED:
                raise Conflict("The message's reactions kept changing; try again")
        assert updated is not None
        out = message_out(updated)
        self.outbox.add(self.session, ReactionsChanged.of(out))
        return out
