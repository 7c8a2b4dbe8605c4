"""``GET /stream``: a bare ASGI endpoint (no Request/Response objects, no task per stream).

Bare because idle streams are the worker's memory: one held here costs ≈ 19 KiB of worker RSS, hub
connection included (S5 in docs/performance.md), where an empty Starlette ``StreamingResponse`` alone costs
≈ 27 KiB and FastAPI with sse-starlette ≈ 50 KiB. Authentication is done here with the service's token
verifier (``Authorization: Bearer``) or a stream ticket (``?ticket=``); an access token in the URL is never
accepted.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import structlog
from starlette.types import Receive, Scope, Send

from app.core import metrics
from app.core.state import State
from app.stream.hub import Connection, StreamHub, frame
from app.stream.log import RESET_EVENT, id_tuple, reset_data
from app.stream.tickets import StreamGrant
from chat_shared.errors import Unauthorized
from chat_shared.state import state_in_scope

log = structlog.get_logger("app.stream.endpoint")

_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-store"),
    (b"x-accel-buffering", b"no"),  # nginx / ingress: do not buffer the stream
]


class _RouteInfo:
    """What the request middleware reads to label metrics and logs by route template."""

    path = "/stream"


class StreamEndpoint:
    """The ASGI app mounted at ``/stream``; its collaborators come from the service's state in the scope."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = _RouteInfo()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        state = state_in_scope(scope, State)
        hub = state.hub
        try:
            grant = await self._authenticate(state, headers, query)
        except Unauthorized as exc:
            await _json(send, 401, {"detail": exc.detail}, [(b"www-authenticate", b"Bearer")])
            return
        if hub.closing:
            await _json(send, 503, {"detail": "Shutting down, reconnect"}, [(b"retry-after", b"1")])
            return
        if not hub.live:  # no wake-up would reach the stream (Redis away): the client retries
            detail = f"Live stream unavailable: {hub.subscription.reason}; reconnect"
            await _json(send, 503, {"detail": detail}, [(b"retry-after", b"2")])
            return
        user_id = grant.user_id
        scope.setdefault("state", {})["user_id"] = user_id
        last_event_id = headers.get("last-event-id") or query.get("last_event_id")

        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        conn = hub.new_connection(user_id, send, sid=grant.sid, issued_at=grant.issued_at)
        reason = "client"
        try:
            await hub.register(conn)  # subscribed before the starting point is read: no wake-up is missed
            if state.runtime.revocations.is_revoked(user_id, grant.sid, grant.issued_at):
                await hub.close(conn, "revoked")  # revoked while the stream was opening, before the hub knew it
                return
            # The starting point is fixed before the client hears "connected": everything appended after
            # that comment reaches it (the reconnect drill sends right after it).
            await self._start_position(hub, conn, last_event_id)
            await conn.write(b"retry: 2000\n: connected\n\n")
            await hub.pump(conn)
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    break
        except Exception as exc:
            reason = "error"
            log.warning("stream_failed", user_id=user_id, error=repr(exc)[:200])
            await hub.close(conn, "error")
        finally:
            await hub.unregister(conn, reason)

    @staticmethod
    async def _authenticate(state: State, headers: dict[str, str], query: dict[str, str]) -> StreamGrant:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return StreamGrant.of(await state.verifier.verify(token.strip()))
        ticket = query.get("ticket")
        if ticket:
            grant = await state.tickets.redeem(ticket)
            if grant is None:
                raise Unauthorized("Invalid or expired ticket")
            return grant
        raise Unauthorized("Not authenticated")

    @staticmethod
    async def _start_position(hub: StreamHub, conn: Connection, last_event_id: str | None) -> None:
        """Live from now; or replay after ``last_event_id`` if still retained; else a ``reset`` event."""
        latest = await hub.log.latest_id(conn.user_id)
        if not last_event_id:
            conn.last_id = latest
            return
        try:
            id_tuple(last_event_id)
            retained = last_event_id == "0-0" or await hub.log.has(conn.user_id, last_event_id)
        except ValueError:
            retained = False
        if retained:
            conn.last_id = last_event_id
            conn.replaying = True
            return
        # Too old (trimmed, expired) or not one of ours: tell the client to re-sync through REST.
        metrics.SSE_RESETS.inc()
        conn.last_id = latest
        data = reset_data("last_event_id is no longer retained; re-sync through the REST API")
        await conn.write(frame(latest, RESET_EVENT, data))


async def _json(send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
