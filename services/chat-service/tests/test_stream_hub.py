"""The stream hub on its own (fake ASGI sends, stub logs): delivery to a user's streams, wake-ups, heartbeat
slices, stalled clients — the edges a real server cannot reach on demand."""

from __future__ import annotations

import asyncio
from typing import Any

from app.stream.log import id_tuple
from chat_shared.testing.waiting import HANG_GUARD_S, eventually


async def test_a_client_that_stops_reading_does_not_hold_up_the_heartbeat(monkeypatch: Any) -> None:
    """One timer pings every stream; a stalled socket is closed instead of blocking the others."""
    from app.stream import hub as hub_module

    monkeypatch.setattr(hub_module, "PING_TIMEOUT_S", 0.1)
    stalled = asyncio.Event()
    sent: dict[int, list[dict[str, Any]]] = {1: [], 2: []}

    def device(user_id: int) -> Any:
        async def send(message: dict[str, Any]) -> None:
            if user_id == 1 and message.get("body") == hub_module.PING:
                await stalled.wait()  # the socket buffer is full and stays full
            sent[user_id].append(message)

        return send

    hub = hub_module.StreamHub(redis=None, user_log=None, heartbeat_s=15, max_lifetime_s=3600)  # type: ignore[arg-type]
    stuck, fine = hub.new_connection(1, device(1)), hub.new_connection(2, device(2))
    stuck.slice = fine.slice = 4
    for conn in (stuck, fine):
        conn.pumping = False
        await hub.register(conn)
    await asyncio.wait_for(hub.heartbeat_slice(4), HANG_GUARD_S)
    assert stuck.closed == "error"
    assert sent[1][-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert fine.closed is None
    assert sent[2] == [{"type": "http.response.body", "body": hub_module.PING, "more_body": True}]


def test_the_heartbeat_spreads_streams_over_its_slices() -> None:
    """Each tick pings one slice: streams opened one after another land in every slice in turn."""
    from app.stream import hub as hub_module

    async def send(message: dict[str, Any]) -> None:
        return None

    hub = hub_module.StreamHub(redis=None, user_log=None, heartbeat_s=15, max_lifetime_s=3600)  # type: ignore[arg-type]
    slices = [hub.new_connection(n, send).slice for n in range(3 * hub_module.HEARTBEAT_SLICES)]
    assert sorted(set(slices)) == list(range(hub_module.HEARTBEAT_SLICES))
    assert max(slices.count(s) for s in set(slices)) == 3


async def test_a_stalled_device_is_closed_and_the_users_other_streams_still_get_the_event(monkeypatch: Any) -> None:
    """A user's streams at one position are written one after another under one deadline: the one that
    stops reading is closed at the deadline and the streams after it are still written."""
    from app.stream import hub as hub_module

    monkeypatch.setattr(hub_module, "WRITE_TIMEOUT_S", 0.1)
    never = asyncio.Event()
    bodies: dict[str, list[bytes]] = {"first": [], "stalled": [], "last": []}

    def device(name: str) -> Any:
        async def send(message: dict[str, Any]) -> None:
            if name == "stalled" and message.get("more_body"):
                await never.wait()  # the socket buffer is full and stays full
            bodies[name].append(message["body"])

        return send

    hub = hub_module.StreamHub(redis=None, user_log=None, heartbeat_s=15, max_lifetime_s=3600)  # type: ignore[arg-type]
    group = [hub.new_connection(3, device(name)) for name in bodies]
    entries = [("5-0", {"e": "message.created", "d": '{"room_id":1}'}), ("6-0", {"e": "read.updated", "d": "{}"})]
    await asyncio.wait_for(hub._deliver(group, entries), HANG_GUARD_S)

    first, stalled, last = group
    expected = b'id: 5-0\nevent: message.created\ndata: {"room_id":1}\n\nid: 6-0\nevent: read.updated\ndata: {}\n\n'
    assert bodies["first"] == [expected] and bodies["last"] == [expected]
    assert (first.last_id, last.last_id) == ("6-0", "6-0")
    assert stalled.closed == "error" and stalled.last_id == "0-0"
    assert bodies["stalled"] == [b""]  # only the end of its response


async def test_a_wake_up_right_after_a_pump_finishes_is_not_lost() -> None:
    """The wake-up for a new entry can arrive after the user's pump read the log for the last time but
    before the pump is forgotten; it must start a new pump, not mark a pump that is already gone."""
    from app.stream import hub as hub_module

    loop = asyncio.get_running_loop()
    log: list[tuple[str, dict[str, str]]] = [("1-0", {"e": "message.created", "d": "{}"})]
    hub: hub_module.StreamHub

    class RacingLog:  # the user's log; a second entry lands (and its wake-up is queued) during the first read
        async def after(self, user_id: int, entry_id: str, count: int) -> list[tuple[str, dict[str, str]]]:
            entries = [e for e in log if id_tuple(e[0]) > id_tuple(entry_id)]
            if len(log) == 1:
                log.append(("2-0", {"e": "message.created", "d": "{}"}))
                loop.call_soon(hub.kick, 9)  # runs after this pump's last check, before it is forgotten
            return entries[:count]

    written: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        written.append(message["body"])

    hub = hub_module.StreamHub(redis=None, user_log=RacingLog(), heartbeat_s=15, max_lifetime_s=3600)  # type: ignore[arg-type]
    conn = hub.new_connection(9, send)
    conn.pumping = False
    await hub.register(conn)
    hub.kick(9)
    await eventually(lambda: conn.last_id == "2-0", "the second entry written")
    assert [b.split(b"\n", 1)[0] for b in written] == [b"id: 1-0", b"id: 2-0"]


async def test_a_stream_at_the_wake_ups_start_is_written_from_them_without_reading_the_log() -> None:
    """A wake-up names the entry before it: a stream standing there is written at once; a stream behind
    (it missed something) reads its log from where it stands."""
    from app.stream import hub as hub_module
    from app.stream.log import WakeUp, parse_wake_up, wake_up_message

    reads: list[str] = []

    class Log:  # the user's log holds 1-0, 2-0, 3-0
        async def after(self, user_id: int, entry_id: str, count: int) -> list[tuple[str, dict[str, str]]]:
            reads.append(entry_id)
            return [
                (i, {"e": "message.created", "d": "{}"})
                for i in ("1-0", "2-0", "3-0")
                if id_tuple(i) > id_tuple(entry_id)
            ]

    written: dict[str, list[bytes]] = {"current": [], "behind": []}

    def device(name: str) -> Any:
        async def send(message: dict[str, Any]) -> None:
            written[name].append(message["body"])

        return send

    hub = hub_module.StreamHub(redis=None, user_log=Log(), heartbeat_s=15, max_lifetime_s=3600)  # type: ignore[arg-type]
    current, behind = hub.new_connection(4, device("current")), hub.new_connection(4, device("behind"))
    current.last_id, behind.last_id = "2-0", "1-0"
    for conn in (current, behind):
        conn.pumping = False
        await hub.register(conn)
    wake_up = parse_wake_up(wake_up_message("2-0", "3-0", "message.created", "1.5", '{"a": 1}'))
    assert wake_up == WakeUp("2-0", ("3-0", {"e": "message.created", "d": '{"a": 1}', "t": "1.5"}))
    hub.kick(4, wake_up)
    await eventually(lambda: current.last_id == behind.last_id == "3-0", "both streams at the last entry")
    assert reads == ["1-0"]  # only the stream that was behind read its log
    assert written["current"] == [b'id: 3-0\nevent: message.created\ndata: {"a": 1}\n\n']
    assert [b.count(b"id: ") for b in written["behind"]] == [2]
    assert parse_wake_up("1700000000000-0") is None  # an older process's bare id: the log is read
