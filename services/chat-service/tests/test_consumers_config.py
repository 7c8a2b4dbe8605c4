"""The fan-out to open streams polls the broker with the short wait; replica consumers may wait longer."""

from __future__ import annotations

from typing import Any

from app.core.state import State
from app.factory import create_app
from app.kafka.consumers import FANOUT_GROUP, PERMISSIONS_GROUP, USERS_GROUP
from app.kafka.presence import PRESENCE_GROUP
from chat_shared.revocation import consumer_group
from chat_shared.testing.fixtures import started_app
from chat_shared.testing.waiting import eventually


async def test_only_the_fanout_uses_the_live_fetch_wait(make_settings: Any) -> None:
    settings = make_settings(kafka_fetch_max_wait_ms=5, kafka_replica_fetch_max_wait_ms=50)
    async for started in started_app(create_app(settings), State):
        consumers = started.state.runtime.consumers
        await eventually(lambda: all(c.running.is_set() for c in consumers), "every consumer running")  # noqa: B023
        waits = {}
        for c in consumers:
            assert c._consumer is not None
            waits[c.group_id] = c._consumer._fetch_max_wait_ms
        assert waits == {
            FANOUT_GROUP: 5,
            PRESENCE_GROUP: 5,
            PERMISSIONS_GROUP: 50,
            USERS_GROUP: 50,
            consumer_group("chat-service"): 50,
        }


def test_the_replica_wait_defaults_to_the_live_one(make_settings: Any) -> None:
    settings = make_settings(kafka_fetch_max_wait_ms=7)
    assert (settings.fetch_max_wait_ms(live=True), settings.fetch_max_wait_ms(live=False)) == (7, 7)
