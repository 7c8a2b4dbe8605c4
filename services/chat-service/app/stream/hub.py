"""The per-process stream hub: local connections by user, one Redis subscription, one heartbeat timer.

No task exists per idle stream: a connection is a small object parked in its own ASGI call (waiting for
the client to go away). A wake-up on ``chat:user:{id}`` starts a short-lived pump per user, which reads the
user's log from each stream's last id and writes the frames; one timer writes ``: ping`` to every idle
stream and closes streams past their lifetime. The same channel carries ``reset`` (the user's log lost
events: their streams send ``reset`` and go on live) and ``close <stream>`` (a newer stream of the user
pushed that one out, see :mod:`app.stream.limits`). The subscription itself, and what happens when Redis goes
away and comes back, is :mod:`app.stream.subscription`: each time it is confirmed again every stream reads
its log from its last delivered entry, so no wake-up lost in the break holds a stream back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from typing import Any

import structlog
from redis.asyncio import Redis

from app.core import metrics
from app.stream.connection import Connection, Send, frame
from app.stream.limits import StreamId, StreamLimit, parse_close
from app.stream.log import (
    GAP_FIELDS,
    RESET_EVENT,
    RESET_WAKE_UP,
    Entry,
    UserLog,
    WakeUp,
    channel,
    parse_user,
    parse_wake_up,
)
from app.stream.subscription import CONFIRM_TIMEOUT_S, Subscription
from chat_shared.revocation import Revocation

log = structlog.get_logger("app.stream.hub")

PING = b": ping\n\n"
#: Written to a stream pushed out by a newer one of the same user before it ends: reconnect later, not at once.
REPLACED = b"retry: 30000\n: closed: a newer stream of this user replaced it\n\n"
PING_TIMEOUT_S = 2.0
WRITE_TIMEOUT_S = 5.0
BATCH = 200
#: The heartbeat pings one slice of the streams per tick, so every stream is pinged once per period but
#: 10,000 pings never land in one stretch of the event loop (≈ 0.2 s of CPU that a broadcast would wait out).
HEARTBEAT_SLICES = 15


__all__ = ["Connection", "Send", "StreamHub", "encode_data", "frame"]


class StreamHub:
    """Registry of this process's streams and the machinery that feeds them."""

    def __init__(
        self,
        redis: Redis,
        user_log: UserLog,
        heartbeat_s: float,
        max_lifetime_s: float,
        max_streams: int = 10,
        limit: StreamLimit | None = None,
    ) -> None:
        self.redis = redis
        self.log = user_log
        self.heartbeat_s = heartbeat_s
        self.max_lifetime_s = max_lifetime_s
        #: Streams one user may hold open; in this process always, across processes through ``limit``.
        self.max_streams = max_streams
        self.limit = limit
        self.connections: dict[int, set[Connection]] = {}
        self.closing = False
        self.subscription = Subscription(redis, self._on_message, self._catch_up)
        self._tasks: list[asyncio.Task[Any]] = []
        self._user_pumps: dict[int, asyncio.Task[Any]] = {}
        self._user_dirty: set[int] = set()
        self._wake_ups: dict[int, list[WakeUp]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opened = 0

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the subscription (it connects in the background, also while Redis is away) and the
        heartbeat timer."""
        self._loop = asyncio.get_running_loop()
        self._tasks = [
            asyncio.create_task(self.subscription.run(), name="stream-hub-subscription"),
            asyncio.create_task(self._heartbeat(), name="stream-hub-heartbeat"),
        ]
        # Streams opened right after start-up find the subscription up; with Redis away it comes up later.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CONFIRM_TIMEOUT_S):
                await self.subscription.first_attempt.wait()

    @property
    def live(self) -> bool:
        """Whether wake-ups reach this process (its subscription is confirmed): streams can be served."""
        return self.subscription.live

    async def ready_check(self) -> bool:
        """Readiness: the subscription is confirmed (a process without it would deliver nothing live)."""
        if not self.live:
            raise ConnectionError(self.subscription.reason)
        return True

    def request_shutdown(self) -> None:
        """Close every stream now (thread/signal safe); called when the server starts to stop."""
        if self._loop is not None and not self.closing:
            self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self.close_all("shutdown")))

    async def close_all(self, reason: str) -> None:
        """End every stream, so clients reconnect (to another replica during a rolling deploy)."""
        self.closing = True
        for conns in list(self.connections.values()):
            for conn in list(conns):
                await self.close(conn, reason)

    async def stop(self) -> None:
        """Close the streams, stop the tasks, drop the subscription."""
        await self.close_all("shutdown")
        pumps = list(self._user_pumps.values())
        for task in [*self._tasks, *pumps]:
            task.cancel()
        for task in [*self._tasks, *pumps]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=2)
        await self.subscription.close()

    # --- connections ----------------------------------------------------------------------------

    def new_connection(self, user_id: int, send: Send, *, sid: str | None = None, issued_at: int = 0) -> Connection:
        """A connection with a lifetime jittered by ±10 %, so a fleet's streams do not expire together."""
        lifetime = self.max_lifetime_s * random.uniform(0.9, 1.1)
        self._opened += 1
        return Connection(
            user_id,
            send,
            time.monotonic() + lifetime,
            self._opened % HEARTBEAT_SLICES,
            number=self._opened,
            sid=sid,
            issued_at=issued_at,
        )

    async def register(self, conn: Connection) -> None:
        """Track the connection; subscribe to the user's channel on their first stream in this process."""
        conns = self.connections.setdefault(conn.user_id, set())
        conns.add(conn)
        metrics.SSE_OPEN.inc()
        metrics.SSE_OPENED.inc()
        # Confirmed per channel, not "first stream of the user": if that first stream's subscribe fails (a
        # connection storm, Redis away), the user's next stream tries again.
        if self._loop is not None:
            await self.subscription.add(channel(conn.user_id))
        await self._push_out_oldest(conn)

    async def _push_out_oldest(self, conn: Connection) -> None:
        """Keep the user's newest ``max_streams`` streams: here at once, in other processes through Redis."""
        local = sorted((c for c in self.connections.get(conn.user_id, ()) if not c.closed), key=lambda c: c.number)
        for old in local[: max(0, len(local) - self.max_streams)]:
            await self.replace(old)
        if self.limit is None:
            return
        try:
            pushed_out = await self.limit.opened(conn.user_id, conn.number)
        except Exception as exc:  # Redis away or full: the limit in this process still holds
            log.warning("stream_limit_unavailable", user_id=conn.user_id, error=repr(exc)[:200])
            return
        for stream in pushed_out:
            await self._close_stream(conn.user_id, stream)

    async def _close_stream(self, user_id: int, stream: StreamId) -> None:
        """Close a stream another one pushed out, if this process holds it."""
        if self.limit is None or stream.process != self.limit.process:
            return
        for conn in list(self.connections.get(user_id, ())):
            if conn.number == stream.number:
                await self.replace(conn)

    async def replace(self, conn: Connection) -> None:
        """End a stream the user replaced by a newer one; its client waits longer before it reconnects."""
        if not conn.closed:
            with contextlib.suppress(Exception):
                await conn.write(REPLACED)
            await self.close(conn, "replaced")

    async def unregister(self, conn: Connection, reason: str) -> None:
        """Forget the connection (once) and record why it closed."""
        conns = self.connections.get(conn.user_id)
        if conns is None or conn not in conns:
            return
        conns.discard(conn)
        metrics.SSE_OPEN.dec()
        metrics.SSE_CLOSED.labels(conn.closed or reason).inc()
        if self.limit is not None:
            with contextlib.suppress(Exception):  # else it is dropped once past a stream's longest lifetime
                await self.limit.closed(conn.user_id, conn.number)
        # The user's other streams may have closed during the await (a revocation closes them together): only
        # the set still registered is forgotten, once.
        if not conns and self.connections.get(conn.user_id) is conns:
            del self.connections[conn.user_id]
            await self.subscription.remove(channel(conn.user_id))

    async def close_sessions(self, revocation: Revocation) -> None:
        """End this process's streams that a revocation kills (opened by a revoked session, or with a token
        issued before the user's not-before time); the client's reconnect is then refused."""
        for conn in list(self.connections.get(revocation.user_id, ())):
            if revocation.kills(conn.sid, conn.issued_at):
                # A client that stopped reading must not hold up the revocations behind this one.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(WRITE_TIMEOUT_S):
                        await self.close(conn, "revoked")

    async def close(self, conn: Connection, reason: str) -> None:
        """End the response; the endpoint's wait for the client then returns and unregisters."""
        if conn.closed:
            return
        conn.closed = reason
        with contextlib.suppress(Exception):
            await conn.send({"type": "http.response.body", "body": b"", "more_body": False})

    # --- delivery -------------------------------------------------------------------------------

    def reset(self, user_id: int) -> None:
        """The user's log lost events (Redis was full): each of their streams sends ``reset`` and goes on live."""
        self._wake_ups.pop(user_id, None)
        for conn in self.connections.get(user_id, ()):
            conn.reset = True
        self.kick(user_id)

    def kick(self, user_id: int, wake_up: WakeUp | None = None) -> None:
        """New entries in the user's log: one pump per user feeds all of their local streams.

        Consecutive wake-ups (each naming the entry before it) are kept until the pump takes them: a stream
        standing at the first one's ``prev`` is written from them without reading the log.
        """
        if wake_up is not None:
            chain = self._wake_ups.setdefault(user_id, [])
            if (chain and chain[-1].entry[0] != wake_up.prev) or len(chain) >= BATCH:
                chain.clear()  # not contiguous (or long): streams read the log instead
            chain.append(wake_up)
        if user_id in self._user_pumps:
            self._user_dirty.add(user_id)
            return
        self._user_pumps[user_id] = asyncio.create_task(self._pump_user(user_id))

    async def _pump_user(self, user_id: int) -> None:
        """Read the user's log once per distinct position and write it to every stream at that position.

        A broadcast to a room wakes each member once; with several devices per member, one read serves
        all of them (a read per stream would exhaust the Redis pool at a thousand streams).
        A stream still replaying (its own :meth:`pump`) is only marked dirty; it catches up itself.
        """
        try:
            await self._pump_user_until_clean(user_id)
        finally:
            # Forgotten in the same step as the last check for new entries, not by a done-callback a loop
            # turn later: a wake-up in between would only mark the user dirty and never be pumped.
            self._user_pumps.pop(user_id, None)

    async def _pump_user_until_clean(self, user_id: int) -> None:
        while True:
            self._user_dirty.discard(user_id)
            chain = self._wake_ups.pop(user_id, [])
            ready: list[Connection] = []
            for conn in list(self.connections.get(user_id, ())):
                if conn.closed:
                    continue
                if conn.pumping:
                    conn.dirty = True
                    continue
                ready.append(conn)
            if any(conn.resumed for conn in ready):
                try:
                    await self._check_positions(user_id, ready)
                except Exception as exc:  # Redis away again: the streams resume later with Last-Event-ID
                    log.warning("stream_pump_failed", user_id=user_id, error=repr(exc)[:200])
                    for conn in ready:
                        await self.close(conn, "error")
            if resets := [conn for conn in ready if conn.reset]:
                await self._send_reset(user_id, resets)
            groups: dict[str, list[Connection]] = {}
            for conn in ready:
                if not conn.closed:
                    groups.setdefault(conn.last_id, []).append(conn)
            full = False
            for last_id, group in groups.items():
                for conn in group:
                    conn.pumping = True
                    conn.dirty = False  # only a stream's own pump reads this flag; wake-ups come per user
                try:
                    entries = _from_wake_ups(chain, last_id)
                    if entries is None:
                        entries = await self.log.after(user_id, last_id, BATCH)
                        full = full or len(entries) == BATCH
                    await self._deliver(group, entries)
                except Exception as exc:
                    log.warning("stream_pump_failed", user_id=user_id, error=repr(exc)[:200])
                    for conn in group:
                        await self.close(conn, "error")
                finally:
                    for conn in group:
                        conn.pumping = False
            if not full and user_id not in self._user_dirty:
                return

    async def _send_reset(self, user_id: int, group: list[Connection]) -> None:
        """Tell streams their log lost events: a ``reset`` at the log's newest entry, from which they go on."""
        for conn in group:
            conn.pumping = True
            conn.reset = False
        try:
            latest = await self.log.latest_id(user_id)
            body = frame(latest, RESET_EVENT, GAP_FIELDS["d"])
            for conn in await self._write_all(group, body, WRITE_TIMEOUT_S):
                conn.last_id = latest
                metrics.SSE_RESETS.inc()
        except Exception as exc:
            log.warning("stream_reset_failed", user_id=user_id, error=repr(exc)[:200])
            for conn in group:
                await self.close(conn, "error")
        finally:
            for conn in group:
                conn.pumping = False

    async def _deliver(self, group: list[Connection], entries: list[Entry]) -> None:
        """Write entries to streams that are all at the same position, recording the deliveries.

        The frames are built once and written to each stream in one send, one stream after another: a
        task and a timer per stream cost more than the write itself (S6). One deadline covers the whole
        group; a stream that stops reading and hits it is closed (it resumes later with
        ``Last-Event-ID``) and the rest of the group goes on under a fresh deadline.
        """
        if not entries:
            return
        body = b"".join(
            frame(entry_id, fields.get("e", "message"), fields.get("d", "{}")) for entry_id, fields in entries
        )
        delivered = await self._write_all(group, body, WRITE_TIMEOUT_S)
        for conn in delivered:
            conn.last_id = entries[-1][0]
        self._record(delivered, entries)

    async def _write_all(self, group: list[Connection], body: bytes, timeout_s: float) -> list[Connection]:
        """Write ``body`` to each open stream of ``group``, one after another under one deadline; a stream
        that hits it is closed and the rest go on under a fresh one. Returns the streams written."""
        written: list[Connection] = []
        position = 0
        while position < len(group):
            try:
                async with asyncio.timeout(timeout_s):
                    while position < len(group):
                        conn = group[position]
                        position += 1
                        if not conn.closed:
                            await conn.write(body)
                            written.append(conn)
            except Exception:  # TimeoutError (a client that stopped reading), or the client is gone
                await self.close(group[position - 1], "error")
        return written

    @staticmethod
    def _record(delivered: list[Connection], entries: list[Entry]) -> None:
        replayed = sum(conn.replaying for conn in delivered)
        now = time.time()
        for _, fields in entries:
            event = fields.get("e", "message")
            metrics.SSE_DELIVERED.labels(event).inc(len(delivered))
            if event == RESET_EVENT:
                metrics.SSE_RESETS.inc(len(delivered))
            if replayed:
                metrics.SSE_REPLAYED.inc(replayed)
            if event == "message.created" and replayed < len(delivered):
                # One observation per event and position, not per device: the group's writes happen
                # back to back, so the devices of one user share the figure.
                with contextlib.suppress(ValueError):
                    metrics.DELIVERY_LATENCY.observe(max(0.0, now - float(fields.get("t", ""))))

    async def pump(self, conn: Connection) -> None:
        """Write every entry after the connection's last id, until none is left (start and replay)."""
        conn.pumping = True
        try:
            while not conn.closed:
                conn.dirty = False
                if conn.resumed:
                    await self._check_positions(conn.user_id, [conn])
                if conn.reset:
                    await self._send_reset(conn.user_id, [conn])
                    conn.pumping = True  # still this pump's stream
                entries = await self.log.after(conn.user_id, conn.last_id, BATCH)
                await self._deliver([conn], entries)
                if not conn.dirty and len(entries) < BATCH:
                    break
        except Exception as exc:
            log.warning("stream_pump_failed", user_id=conn.user_id, error=repr(exc)[:200])
            await self.close(conn, "error")
        finally:
            conn.pumping = False
            conn.replaying = False

    async def _on_message(self, name: str, data: str) -> None:
        """A message on a user's channel: a wake-up, a ``reset``, or a ``close`` of one of their streams."""
        user_id = parse_user(name)
        if user_id is None:
            return
        if data == RESET_WAKE_UP:
            self.reset(user_id)
        elif (stream := parse_close(data)) is not None:
            await self._close_stream(user_id, stream)
        else:
            self.kick(user_id, parse_wake_up(data))

    def _catch_up(self) -> None:
        """The subscription is confirmed (again): wake-ups published while it was away were lost, so every
        stream reads its log from its last delivered entry, after checking that the log still holds it."""
        for user_id, conns in list(self.connections.items()):
            for conn in conns:
                conn.resumed = True
            self.kick(user_id)

    async def _check_positions(self, user_id: int, conns: list[Connection]) -> None:
        """After a break: a stream whose last entry the log no longer holds (Redis came back without its
        data) sends ``reset`` instead of reading on from a position that no longer exists."""
        held: dict[str, bool] = {}
        for conn in conns:
            if not conn.resumed:
                continue
            conn.resumed = False
            if conn.last_id == "0-0":
                continue
            if conn.last_id not in held:
                held[conn.last_id] = await self.log.has(user_id, conn.last_id)
            if not held[conn.last_id]:
                conn.reset = True

    async def _heartbeat(self) -> None:
        tick = self.heartbeat_s / HEARTBEAT_SLICES
        current = 0
        while True:
            await asyncio.sleep(tick)
            current = (current + 1) % HEARTBEAT_SLICES
            await self.heartbeat_slice(current)

    async def heartbeat_slice(self, current: int) -> None:
        """Ping the idle streams of one slice and close those past their lifetime."""
        now = time.monotonic()
        due: list[Connection] = []
        for conns in list(self.connections.values()):
            for conn in list(conns):
                if conn.slice != current or conn.closed:
                    continue
                if conn.expires_at <= now:
                    await self.close(conn, "lifetime")
                elif not conn.pumping:  # a stream being written needs no keep-alive
                    due.append(conn)
        # One timer serves every stream, so a client that stopped reading (full socket buffer) must not
        # hold it up: it is given up on after a short wait and resumes later with Last-Event-ID.
        await self._write_all(due, PING, PING_TIMEOUT_S)


def _from_wake_ups(chain: list[WakeUp], last_id: str) -> list[Entry] | None:
    """The entries after ``last_id`` if the wake-ups start there (they are contiguous), else None."""
    for i, wake_up in enumerate(chain):
        if wake_up.prev == last_id:
            return [w.entry for w in chain[i:]]
    return None


def encode_data(payload: dict[str, Any]) -> str:
    """Compact one-line JSON for a ``data:`` field."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
