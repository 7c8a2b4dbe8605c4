"""The process's one pub/sub connection: the wake-up channels of the users who have a stream here.

Only this module's task opens it. redis-py's ``PubSub`` reconnects from whichever call meets a broken
connection and resubscribes from its own bookkeeping; with the listener and every stream opening sharing
the connection, several tasks could reconnect at once and leave a channel subscribed on a socket no one
reads. Here a connection that fails is dropped whole, and the task opens a new one and subscribes
``chat:hub`` and every wanted channel in one ``SUBSCRIBE`` (Redis subscribes them all before it runs
another command). Redis's confirmation of ``chat:hub`` is the moment from which every wake-up reaches this
process: ``on_subscribed`` then has every stream re-read its log from the last entry it delivered, so a
wake-up published while the connection was away (Redis restarting, the connection re-opening) is never
needed. While there is no confirmed connection the hub is not ``live``: ``/ready`` says so and new streams
are refused with 503; open streams stay open and catch up once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError

log = structlog.get_logger("app.stream.subscription")

#: Subscribed first on every connection: its confirmation says the connection's channels are all live.
HUB_CHANNEL = "chat:hub"
#: Waits between attempts to open the connection while Redis is away: short, so the streams catch up soon.
RETRY_MIN_S = 0.1
RETRY_MAX_S = 2.0
#: How long a stream's opening waits for Redis to confirm its user's channel.
CONFIRM_TIMEOUT_S = 5.0

OnMessage = Callable[[str, str], Awaitable[None]]


class NotSubscribed(RedisConnectionError):
    """The pub/sub connection is not up: no wake-up would reach a stream opened now."""


class Subscription:
    """The wanted channels, kept subscribed on one connection that this object's task re-opens."""

    def __init__(self, redis: Redis, on_message: OnMessage, on_subscribed: Callable[[], None]) -> None:
        self.redis = redis
        self.on_message = on_message
        self.on_subscribed = on_subscribed
        #: Channels to hold besides ``chat:hub``; a new connection subscribes all of them.
        self.channels: set[str] = set()
        #: Channels Redis confirmed on the current connection.
        self.confirmed: set[str] = set()
        #: Whether the current connection's ``chat:hub`` is confirmed; else why not (for ``/ready``).
        self.live = False
        self.reason = "not subscribed yet"
        #: Set once the first attempt to subscribe has ended, either way (start-up waits for it, no longer).
        self.first_attempt = asyncio.Event()
        self._pubsub: PubSub | None = None
        self._refresh: asyncio.Future[None] | None = None
        #: Per channel, the openings waiting for the confirmation of their ``SUBSCRIBE``, oldest first (Redis
        #: confirms in the order it was sent).
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}

    async def add(self, channel: str) -> None:
        """Subscribe ``channel`` and return once Redis confirms it (at once if it already did).

        Raises :class:`NotSubscribed` while the connection is down, or if it goes down before the
        confirmation; the channel stays wanted, so the next connection subscribes it anyway.
        """
        self.channels.add(channel)
        if channel in self.confirmed:
            return
        pubsub = self._pubsub
        connection = pubsub.connection if pubsub is not None else None
        if not self.live or connection is None or not connection.is_connected:
            raise NotSubscribed(f"live stream unavailable: {self.reason}")
        waiting = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(channel, deque()).append(waiting)
        # Sent on the connection directly: a failure drops it (the listener then opens a new one) instead
        # of reconnecting from this call. No health check: on a subscribed connection its PONG would be
        # read as a message.
        await connection.send_command("SUBSCRIBE", channel, check_health=False)
        async with asyncio.timeout(CONFIRM_TIMEOUT_S):
            await asyncio.shield(waiting)

    async def remove(self, channel: str) -> None:
        """Stop holding ``channel`` (its user's last stream here closed)."""
        self.channels.discard(channel)
        self.confirmed.discard(channel)
        pubsub = self._pubsub
        connection = pubsub.connection if pubsub is not None else None
        if self.live and connection is not None and connection.is_connected:
            with contextlib.suppress(Exception):  # a broken connection is replaced without it
                await connection.send_command("UNSUBSCRIBE", channel, check_health=False)

    async def run(self) -> None:
        """Hold the subscription for the life of the process: open, listen, and on any failure open anew."""
        delay = RETRY_MIN_S
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.live:
                    delay = RETRY_MIN_S
                    log.warning("stream_subscription_lost", error=repr(exc)[:200])
                self.reason = f"Redis pub/sub unreachable ({type(exc).__name__})"
            finally:
                await self._drop()
                self.first_attempt.set()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    async def close(self) -> None:
        """Drop the connection (the task is cancelled by its owner)."""
        await self._drop()

    async def _listen(self) -> None:
        self._pubsub = pubsub = self.redis.pubsub()
        await pubsub.subscribe(HUB_CHANNEL, *sorted(self.channels))
        while True:
            # redis-py would reconnect a closed connection inside the next read and resubscribe only what it
            # subscribed itself; a closed connection is dropped here instead.
            if pubsub.connection is None or not pubsub.connection.is_connected:
                raise RedisConnectionError("pub/sub connection closed")
            message = await pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            kind, name = message.get("type"), str(message.get("channel", ""))
            if kind == "message":
                await self.on_message(name, str(message.get("data", "")))
            elif kind == "subscribe":
                self._confirm(name)

    def _confirm(self, channel: str) -> None:
        if channel != HUB_CHANNEL:
            queue = self._waiting.get(channel)
            if queue:
                waiting = queue.popleft()
                if not waiting.done():
                    waiting.set_result(None)
            if queue:
                return  # a later SUBSCRIBE of it is still on its way (an UNSUBSCRIBE may lie in between)
            self._waiting.pop(channel, None)
            if channel in self.channels:
                self.confirmed.add(channel)
            return
        if self.live:  # subscribed again on this connection: redis-py re-opened it on its own
            raise RedisConnectionError("pub/sub connection re-opened outside the hub")
        self.live = True
        self.reason = ""
        if self.first_attempt.is_set():
            # Back after a break: the pool's idle connections were opened before it and fail on first use
            # ("closed by server"); dropped now, the catch-up's reads open fresh ones.
            self._refresh = asyncio.ensure_future(self._drop_idle_connections())
        else:
            self.first_attempt.set()
            self.on_subscribed()

    async def _drop_idle_connections(self) -> None:
        with contextlib.suppress(Exception):
            await self.redis.connection_pool.disconnect(inuse_connections=False)
        if self.live:
            self.on_subscribed()

    async def _drop(self) -> None:
        self.live = False
        self.confirmed.clear()
        for queue in self._waiting.values():
            for waiting in queue:
                if not waiting.done():
                    waiting.set_exception(NotSubscribed("the pub/sub connection was lost"))
                    waiting.exception()  # retrieved: an opening that stopped waiting leaves no unread error
        self._waiting.clear()
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
