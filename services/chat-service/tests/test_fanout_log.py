"""The fan-out's appends to users' logs (real Redis): a batch in one round trip, in order, once per event, to
the room's members as of each event."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx

from app.core.state import State
from app.kafka.consumers import FanOut
from app.stream.log import Append, UserLog, stream_key
from chat_shared.events import DomainEvent, EventEnvelope
from chat_shared.events.chat import MemberJoined, MemberLeft, MessageSent, MessageSnapshot
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import befriend, new_user


async def log_fields(state: State, user: int) -> list[dict[str, str]]:
    """The fields of each entry of a user's log (the client decodes responses)."""
    entries = await state.redis.xrange(stream_key(user)) or []
    return [{str(k): str(v) for k, v in (fields or {}).items()} for _, fields in entries]


async def test_a_redelivered_batch_appends_only_what_is_missing(state: State) -> None:
    user_log = UserLog(state.redis)
    a, b = new_user(), new_user()
    events = [Append(str(uuid.uuid4()), [a, b], "message.created", f'{{"n":{n}}}', 1.0) for n in range(5)]
    assert await user_log.append_many(events[:2]) == [True, True]
    # A crash after the first two: the whole batch comes again, with three more events.
    assert await user_log.append_many(events) == [False, False, True, True, True]
    for user in (a, b):
        assert [fields["d"] for fields in await log_fields(state, user)] == [f'{{"n":{n}}}' for n in range(5)]


async def test_an_event_without_recipients_is_skipped(state: State) -> None:
    user_log = UserLog(state.redis)
    a = new_user()
    appended = await user_log.append_many(
        [
            Append(str(uuid.uuid4()), [], "room.created", "{}", 1.0),
            Append(str(uuid.uuid4()), [a], "room.created", "{}", 1.0),
        ]
    )
    assert appended == [True]
    assert len(await log_fields(state, a)) == 1


def _message(room_id: int, seq: int, sender: int) -> MessageSnapshot:
    return MessageSnapshot(
        id=uuid.uuid4().hex[:24],
        room_id=room_id,
        seq=seq,
        sender_id=sender,
        content=f"m{seq}",
        message_type="text",
        client_msg_id=None,
        created_at=datetime.now(UTC),
        edited_at=None,
        deleted=False,
        reactions={},
    )


async def test_a_membership_change_in_a_batch_reaches_the_batchs_later_events(
    state: State, client: httpx.AsyncClient, keys: Keys
) -> None:
    owner, joiner, leaver = new_user(), new_user(), new_user()
    await befriend(state, owner, joiner, leaver)
    created = await client.post(
        "/rooms", json={"type": "group", "name": "batch", "member_ids": [leaver]}, headers=keys.headers(owner)
    )
    room = int(created.json()["id"])
    at = datetime.now(UTC)
    batch: list[DomainEvent] = [
        MessageSent.of(_message(room, 1, owner)),
        MemberJoined(room_id=room, user_id=joiner, by_user_id=owner, member_ids=[owner, joiner, leaver], at=at),
        MessageSent.of(_message(room, 2, owner)),
        MemberLeft(room_id=room, user_id=leaver, member_ids=[owner, joiner], at=at),
        MessageSent.of(_message(room, 3, owner)),
    ]
    # The calls the fan-out consumer makes for one batch, in its transaction.
    fanout = FanOut(UserLog(state.redis))
    handlers = fanout.handlers()
    async with state.sessionmaker() as session:
        await fanout.before(session, batch)
        for event in batch:
            await handlers[type(event)](session, event, EventEnvelope.of(event, "chat-service"))
        await fanout.after(session)

    async def seen(user: int) -> list[str]:
        return [
            f"{fields['e']} {json.loads(fields['d']).get('message', {}).get('seq', '')}".strip()
            for fields in await log_fields(state, user)
        ]

    joined, left, sent = "room.member_joined", "room.member_left", "message.created"
    assert await seen(owner) == [f"{sent} 1", joined, f"{sent} 2", left, f"{sent} 3"]
    assert await seen(joiner) == [joined, f"{sent} 2", left, f"{sent} 3"]
    assert await seen(leaver) == [f"{sent} 1", joined, f"{sent} 2", left]
