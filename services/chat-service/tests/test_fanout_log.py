"""The fan-out's appends to users' logs (real Redis): a batch in one round trip, in order, once per event, to
the room's members as of each event."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.core.state import State
from app.kafka.consumers import FanOut
from app.models.room import GROUP, Room
from app.repositories.rooms import RoomRepository
from app.stream.log import Append, UserLog, stream_key
from chat_shared.db import commit
from chat_shared.events import DomainEvent, EventEnvelope
from chat_shared.events.chat import (
    MemberJoined,
    MemberLeft,
    MemberRoleChanged,
    MessageSent,
    MessageSnapshot,
    RoomRole,
    RoomUpdated,
)
from chat_shared.testing.broker import read_events
from chat_shared.testing.tokens import TestKeys as Keys
from tests.support import befriend, new_user, send


async def test_a_redelivered_batch_appends_only_what_is_missing(state: State) -> None:
    user_log = UserLog(state.redis)
    a, b = new_user(), new_user()
    events = [Append(str(uuid.uuid4()), [a, b], "message.created", f'{{"n":{n}}}', 1.0) for n in range(5)]
    assert await user_log.append_many(events[:2]) == [True, True]
    # A crash after the first two: the whole batch comes again, with three more events.
    assert await user_log.append_many(events) == [False, False, True, True, True]
    for user in (a, b):
        entries = await user_log.after(user, "0-0", 100)
        assert [fields["d"] for _, fields in entries] == [f'{{"n":{n}}}' for n in range(5)]


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
    assert len(await state.redis.xrange(stream_key(a)) or []) == 1


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


async def room_with(state: State, members: list[int]) -> int:
    """A group room with these members, written straight to the database (as the commits of its creation,
    invites and leaves left it), publishing nothing."""
    now = datetime.now(UTC)
    async with state.sessionmaker() as session:
        room = Room(type=GROUP, name="batch", pair_key=None, created_by=members[0], last_seq=0, created_at=now)
        session.add(room)
        await session.flush()
        RoomRepository(session).add_members(room.id, members, now)
        await commit(session)
        return room.id


async def fan_out(state: State, batch: list[DomainEvent]) -> None:
    """The calls the fan-out consumer makes for one batch, in its transaction."""
    fanout = FanOut(UserLog(state.redis))
    handlers = fanout.handlers()
    async with state.sessionmaker() as session:
        await fanout.before(session, batch)
        for event in batch:
            await handlers[type(event)](session, event, EventEnvelope.of(event, "chat-service"))
        await fanout.after(session)


async def seen(state: State, user: int) -> list[str]:
    """The user's log as ``event seq`` (seq for message events only)."""
    entries = await UserLog(state.redis).after(user, "0-0", 100)
    return [
        f"{fields['e']} {json.loads(fields['d']).get('message', {}).get('seq', '')}".strip() for _, fields in entries
    ]


JOINED, LEFT, SENT = "room.member_joined", "room.member_left", "message.created"


async def test_a_membership_change_in_a_batch_reaches_the_batchs_later_events(state: State) -> None:
    owner, joiner, leaver = new_user(), new_user(), new_user()
    # The database as the invite's and the leave's commits left it, before their events were published.
    room = await room_with(state, [owner, joiner])
    at = datetime.now(UTC)
    await fan_out(
        state,
        [
            MessageSent.of(_message(room, 1, owner)),
            MemberJoined(room_id=room, user_id=joiner, by_user_id=owner, member_ids=[owner, joiner, leaver], at=at),
            MessageSent.of(_message(room, 2, owner)),
            MemberLeft(room_id=room, user_id=leaver, member_ids=[owner, joiner], at=at),
            MessageSent.of(_message(room, 3, owner)),
        ],
    )
    assert await seen(state, owner) == [f"{SENT} 1", JOINED, f"{SENT} 2", LEFT, f"{SENT} 3"]
    # Message 1 comes ahead of the join in the batch, but from another topic: it goes to the current members.
    assert await seen(state, joiner) == [f"{SENT} 1", JOINED, f"{SENT} 2", LEFT, f"{SENT} 3"]
    # The leaver sees the membership events that name them, and no message: they are not a member any more.
    assert await seen(state, leaver) == [JOINED, LEFT]


#: Whether X, who joins and leaves in the batch but is a member again in the database (a later rejoin),
#: receives the message: as of the message's place in the batch; a message ahead of the room's membership
#: events goes to the database's (current) members.
X_REJOINED_GETS_MESSAGE = {
    ("joined", "left", "sent"): False,
    ("joined", "sent", "left"): True,
    ("left", "joined", "sent"): True,
    ("left", "sent", "joined"): False,
    ("sent", "joined", "left"): True,
    ("sent", "left", "joined"): True,
}


@pytest.mark.parametrize("x_in_database", [False, True], ids=["x-gone", "x-rejoined"])
@pytest.mark.parametrize("order", list(X_REJOINED_GETS_MESSAGE), ids="-".join)
async def test_a_former_member_never_receives_a_later_message(
    state: State, order: tuple[str, str, str], x_in_database: bool
) -> None:
    a, x = new_user(), new_user()
    room = await room_with(state, [a, x] if x_in_database else [a])
    at = datetime.now(UTC)
    events: dict[str, DomainEvent] = {
        "joined": MemberJoined(room_id=room, user_id=x, by_user_id=a, member_ids=[a, x], at=at),
        "left": MemberLeft(room_id=room, user_id=x, member_ids=[a], at=at),
        "sent": MessageSent.of(_message(room, 1, a)),
    }
    await fan_out(state, [events[name] for name in order])

    expected = {"joined": JOINED, "left": LEFT, "sent": f"{SENT} 1"}
    assert await seen(state, a) == [expected[name] for name in order]
    x_gets_message = x_in_database and X_REJOINED_GETS_MESSAGE[order]
    assert await seen(state, x) == [expected[name] for name in order if name != "sent" or x_gets_message]


async def test_a_removal_wins_over_the_rooms_events_already_in_its_batch(state: State) -> None:
    """The removal committed before the batch was read: the removed member gets none of the room's events
    queued with it — messages and room changes ahead of the ``MemberLeft`` included — only the removal."""
    owner, removed = new_user(), new_user()
    room = await room_with(state, [owner])  # the database after the removal's commit
    at = datetime.now(UTC)
    await fan_out(
        state,
        [
            MessageSent.of(_message(room, 1, owner)),
            RoomUpdated(room_id=room, name="renamed", by_user_id=owner, at=at),
            MemberRoleChanged(room_id=room, user_id=owner, role=RoomRole.OWNER, by_user_id=owner, at=at),
            MemberLeft(room_id=room, user_id=removed, member_ids=[owner], removed_by=owner, at=at),
            MessageSent.of(_message(room, 2, owner)),
        ],
    )
    assert await seen(state, owner) == [f"{SENT} 1", "room.updated", "room.member_role_changed", LEFT, f"{SENT} 2"]
    assert await seen(state, removed) == [LEFT]


#: X joins the room at seq 1 and leaves it at seq 2 (``after_seq``), both in the batch: whatever the
#: message's seq and wherever it stands in the batch relative to the membership events (another topic's
#: record may come ahead of or behind them), removal wins — X gets none of the room's messages of the batch.
X_SEQS = [1, 2, 3]


@pytest.mark.parametrize("place", [0, 1, 2], ids=["sent-first", "sent-between", "sent-last"])
@pytest.mark.parametrize("seq", X_SEQS, ids=lambda s: f"seq-{s}")
async def test_a_member_who_joins_and_leaves_in_one_batch_gets_none_of_its_messages(
    state: State, seq: int, place: int
) -> None:
    a, x = new_user(), new_user()
    room = await room_with(state, [a])  # the database after X's join and leave
    at = datetime.now(UTC)
    batch: list[DomainEvent] = [
        MemberJoined(room_id=room, user_id=x, by_user_id=a, member_ids=[a, x], at=at, after_seq=1),
        MemberLeft(room_id=room, user_id=x, member_ids=[a], at=at, after_seq=2),
    ]
    batch.insert(place, MessageSent.of(_message(room, seq, a)))
    await fan_out(state, batch)

    names = [JOINED, LEFT]
    names.insert(place, f"{SENT} {seq}")
    assert await seen(state, a) == names
    assert await seen(state, x) == [n for n in names if n != f"{SENT} {seq}"]


#: The orders a batch can hold X's join and two messages in (one topic's records of a room keep their order).
JOIN_ORDERS = [
    o for o in itertools.permutations(["joined", "sent 1", "sent 2"]) if o.index("sent 1") < o.index("sent 2")
]


@pytest.mark.parametrize("order", JOIN_ORDERS, ids="-".join)
async def test_a_member_who_joined_just_after_a_message_never_receives_it(state: State, order: tuple[str, ...]) -> None:
    """X's join is the room's seq 1: message 1 predates it, message 2 does not — in every order of the batch."""
    a, x = new_user(), new_user()
    room = await room_with(state, [a, x])  # the database after X's join
    events: dict[str, DomainEvent] = {
        "joined": MemberJoined(
            room_id=room, user_id=x, by_user_id=a, member_ids=[a, x], at=datetime.now(UTC), after_seq=1
        ),
        "sent 1": MessageSent.of(_message(room, 1, a)),
        "sent 2": MessageSent.of(_message(room, 2, a)),
    }
    await fan_out(state, [events[name] for name in order])

    expected = {"joined": JOINED, "sent 1": f"{SENT} 1", "sent 2": f"{SENT} 2"}
    assert await seen(state, a) == [expected[name] for name in order]
    assert await seen(state, x) == [expected[name] for name in order if name != "sent 1"]


async def test_a_member_who_left_after_the_batch_receives_nothing_past_their_last_change(state: State) -> None:
    """X's join is in the batch, a leave of X is committed but its event not read yet: removal wins."""
    a, x = new_user(), new_user()
    room = await room_with(state, [a])
    at = datetime.now(UTC)
    await fan_out(
        state,
        [
            MemberJoined(room_id=room, user_id=x, by_user_id=a, member_ids=[a, x], at=at, after_seq=0),
            MessageSent.of(_message(room, 1, a)),
        ],
    )
    assert await seen(state, x) == [JOINED]


async def test_the_invite_and_the_leave_publish_the_rooms_seq_at_the_change(
    state: State, client: httpx.AsyncClient, keys: Keys, kafka_bootstrap: str
) -> None:
    owner, friend, joiner = new_user(), new_user(), new_user()
    await befriend(state, owner, friend, joiner)
    created = await client.post(
        "/rooms", json={"type": "group", "name": "seqs", "member_ids": [friend]}, headers=keys.headers(owner)
    )
    room = created.json()["id"]
    for n in range(2):
        await send(client, keys, owner, room, f"before the join {n}")
    assert (
        await client.post(f"/rooms/{room}/members", json={"user_id": joiner}, headers=keys.headers(owner))
    ).status_code == 201
    await send(client, keys, owner, room, "after the join")
    assert (await client.delete(f"/rooms/{room}/members/me", headers=keys.headers(joiner))).status_code == 204

    def membership(events: list[dict[str, Any]]) -> dict[str, int | None]:
        return {
            e["event_type"]: e["payload"]["after_seq"]
            for e in events
            if e.get("event_type") in ("MemberJoined", "MemberLeft") and e["payload"]["room_id"] == room
        }

    published = membership(await read_events(kafka_bootstrap, "chat.events", lambda seen: len(membership(seen)) == 2))
    assert published == {"MemberJoined": 2, "MemberLeft": 3}
