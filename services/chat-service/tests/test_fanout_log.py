"""The fan-out's appends to users' logs (real Redis): a batch in one round trip, in order, once per event."""

from __future__ import annotations

import uuid

from app.core.state import State
from app.stream.log import Append, UserLog, stream_key
from tests.support import new_user


async def test_a_redelivered_batch_appends_only_what_is_missing(state: State) -> None:
    user_log = UserLog(state.redis)
    a, b = new_user(), new_user()
    events = [Append(str(uuid.uuid4()), [a, b], "message.created", f'{{"n":{n}}}', 1.0) for n in range(5)]
    assert await user_log.append_many(events[:2]) == [True, True]
    # A crash after the first two: the whole batch comes again, with three more events.
    assert await user_log.append_many(events) == [False, False, True, True, True]
    for user in (a, b):
        entries = await state.redis.xrange(stream_key(user))
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
    assert len(await state.redis.xrange(stream_key(a))) == 1
