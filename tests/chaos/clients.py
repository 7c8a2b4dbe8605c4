"""The drill's clients, as a well-behaved app behaves: sends with a ``client_msg_id`` retried until they are
acknowledged, and a live stream resumed with ``Last-Event-ID`` whenever it drops.

Every HTTP answer is recorded (:class:`Answer`) so the drill can tell a 5xx during a cut from one outside.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from chat_shared.testing.sse import SSE, Event

SEND_ATTEMPTS = 120  # with the back-off below: minutes of retrying, well past any cut of the drill
RETRY_BACKOFF_S = (0.1, 2.0)  # first wait, longest wait
RETRYABLE = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Answer:
    """One HTTP exchange: what was asked, its status (0: no answer, a transport error) and when."""

    kind: str  # "send", "stream", "history"
    status: int
    started: float
    ended: float


@dataclass(frozen=True)
class Ack:
    """An acknowledged send: the server's message id and seq for the client's id."""

    room_id: int
    client_msg_id: str
    message_id: str
    seq: int


@dataclass
class Recorder:
    """Every answer of the run, in the order they came."""

    answers: list[Answer] = field(default_factory=list)

    def add(self, kind: str, status: int, started: float) -> None:
        self.answers.append(Answer(kind, status, started, time.monotonic()))


@dataclass
class Member:
    """One user with a token, the rooms it sends to, and what its stream delivered."""

    user_id: int
    token: str
    rooms: list[int] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # sends answered with a permanent error
    last_id: str = ""
    entry_ids: list[str] = field(default_factory=list)  # every stream event id, in arrival order
    delivered: Counter[str] = field(default_factory=Counter)  # client_msg_id -> times on the stream
    resets: int = 0
    connects: int = 0

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def send_one(
    client: httpx.AsyncClient, member: Member, room_id: int, client_msg_id: str, recorder: Recorder
) -> None:
    """Send once, retried with the same ``client_msg_id`` until acknowledged (201, or 200 for a retry the
    server had already stored) or refused for good (a 4xx other than 429)."""
    body = {"content": f"chaos {client_msg_id}", "message_type": "text", "client_msg_id": client_msg_id}
    wait = RETRY_BACKOFF_S[0]
    for _ in range(SEND_ATTEMPTS):
        started = time.monotonic()
        try:
            r = await client.post(f"/api/rooms/{room_id}/messages", json=body, headers=member.auth)
        except httpx.HTTPError:
            recorder.add("send", 0, started)
        else:
            recorder.add("send", r.status_code, started)
            if r.status_code in (200, 201):
                message = r.json()
                member.acks.append(Ack(room_id, client_msg_id, message["id"], message["seq"]))
                return
            if r.status_code not in RETRYABLE:
                member.failed.append(f"{client_msg_id}: {r.status_code} {r.text[:200]}")
                return
        await asyncio.sleep(wait)
        wait = min(wait * 2, RETRY_BACKOFF_S[1])
    member.failed.append(f"{client_msg_id}: no acknowledgement after {SEND_ATTEMPTS} attempts")


async def send_all(
    client: httpx.AsyncClient, member: Member, count: int, interval_s: float, recorder: Recorder
) -> None:
    """``count`` sends spread over the member's rooms, one at a time and at most one per ``interval_s``."""
    for number in range(count):
        paced = asyncio.create_task(asyncio.sleep(interval_s))
        room_id = member.rooms[number % len(member.rooms)]
        await send_one(client, member, room_id, f"{member.user_id}-{number}-{uuid.uuid4().hex[:8]}", recorder)
        await paced


async def follow_stream(client: httpx.AsyncClient, member: Member, recorder: Recorder) -> None:
    """Hold the member's stream open until cancelled; reconnect with ``Last-Event-ID`` each time it ends."""
    while True:
        headers = dict(member.auth)
        if member.last_id:
            headers["Last-Event-ID"] = member.last_id
        started = time.monotonic()
        try:
            async with client.stream("GET", "/api/stream", headers=headers, timeout=_STREAM_TIMEOUT) as r:
                recorder.add("stream", r.status_code, started)
                if r.status_code == 200:
                    sse = SSE(r)
                    taking = asyncio.create_task(_take(sse, member))
                    try:
                        await sse.read()
                    finally:
                        taking.cancel()
                    while not sse.events.empty():  # what came after the last one taken
                        _record(member, sse.events.get_nowait())
        except httpx.HTTPError:
            recorder.add("stream", 0, started)
        await asyncio.sleep(0.2)


_STREAM_TIMEOUT = httpx.Timeout(10.0, read=30.0)  # heartbeats come every few seconds


async def _take(sse: SSE, member: Member) -> None:
    await sse.connected.wait()  # the starting point is fixed: whatever is appended now reaches us
    member.connects += 1
    while True:
        _record(member, await sse.events.get())


def _record(member: Member, event: Event) -> None:
    if event.id is not None:
        member.last_id = event.id
        member.entry_ids.append(event.id)
    if event.event == "reset":
        member.resets += 1
    elif event.event == "message.created" and isinstance(event.data, dict):
        client_msg_id = (event.data.get("message") or {}).get("client_msg_id")
        if client_msg_id:
            member.delivered[client_msg_id] += 1


async def history(client: httpx.AsyncClient, member: Member, room_id: int) -> list[dict[str, Any]]:
    """Every message of the room, oldest first, paged forward by seq (retrying a page until it answers)."""
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        r = await client.get(
            f"/api/rooms/{room_id}/messages", params={"after": after, "limit": 100}, headers=member.auth
        )
        if r.status_code in RETRYABLE:
            await asyncio.sleep(0.5)
            continue
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        after = page["next_cursor"]
