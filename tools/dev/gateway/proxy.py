"""Forwarding a routed request upstream and streaming the answer back, SSE included.

One pooled ``httpx.AsyncClient`` serves every request. A response with a ``Content-Length`` is relayed
chunk by chunk; one without (an SSE stream, a chunked body) is relayed as each chunk arrives until the
upstream ends it or the client goes away, and then the upstream stream is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

import httpx

from .asgi import RawHeaders, Receive, Scope, Send, header
from .routing import Match

#: How long an idle upstream connection is kept: less than the services' keep-alive (tools/dev/run.py).
KEEPALIVE_EXPIRY_S = 30
#: Methods a request may be sent again with, to another target, after a connection dropped mid-request.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Set by the gateway from what it saw; whatever the client sent under these names is dropped.
_REPLACED = frozenset(
    {
        b"host",
        b"content-length",
        b"x-real-ip",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"x-forwarded-path",
        b"x-forwarded-prefix",
    }
)


def create_client() -> httpx.AsyncClient:
    """The one pooled client every request shares."""
    return httpx.AsyncClient(
        trust_env=False,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=KEEPALIVE_EXPIRY_S),
    )


def upstream_headers(
    scope: Scope,
    headers: RawHeaders,
    found: Match,
    client_addr: str,
    request_id_header: bytes,
    request_id: str | None,
) -> RawHeaders:
    """The request's headers as the upstream gets them: hop-by-hop ones dropped, ``X-Forwarded-*`` set."""
    connection_tokens = {t.strip().lower().encode() for t in (header(headers, b"connection") or "").split(",")}
    drop = HOP_BY_HOP | connection_tokens | _REPLACED | {request_id_header}
    out = [(k, v) for k, v in headers if k not in drop and k != b"x-forwarded-for"]
    forwarded_for = header(headers, b"x-forwarded-for")
    server = scope.get("server") or ("127.0.0.1", 8000)
    host = header(headers, b"host") or f"{server[0]}:{server[1]}"
    out += [
        (b"x-forwarded-for", f"{forwarded_for}, {client_addr}".encode() if forwarded_for else client_addr.encode()),
        (b"x-real-ip", client_addr.encode()),
        (b"x-forwarded-proto", scope.get("scheme", "http").encode()),
        (b"x-forwarded-host", host.split(":")[0].encode("latin-1")),
        (b"x-forwarded-port", str(server[1]).encode()),
        (b"x-forwarded-path", scope["path"].encode("utf-8", "replace")),
    ]
    if found.route.strip_path:
        out.append((b"x-forwarded-prefix", found.route.prefix.encode()))
    if request_id and request_id_header:
        out.append((request_id_header, request_id.encode()))
    return out


async def read_body(receive: Receive, limit: int | None) -> bytes | None:
    """The whole request body, or None once it exceeds ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _send(
    client: httpx.AsyncClient, attempts: Sequence[httpx.Request], found: Match
) -> httpx.Response | tuple[int, str]:
    """The first answer of ``attempts`` (the request once per target, in balancing order), or the error.

    A target that refuses the connection got nothing, so the next one is tried, whatever the method;
    one that drops the connection before answering may have acted on the request, so only an idempotent
    request goes on to the next (Kong's retries on an upstream with several targets do the same).
    """
    for number, request in enumerate(attempts, start=1):
        last = number == len(attempts)
        try:
            return await client.send(request, stream=True)
        except httpx.TimeoutException:
            return 504, "The upstream server is timing out"
        except httpx.ConnectError:
            if last:
                break
        except httpx.HTTPError:
            if last or request.method not in IDEMPOTENT:
                return 502, "The upstream closed the connection without answering"
    return 502, f"{found.route.host} is not reachable (not running?)"


async def forward(
    client: httpx.AsyncClient,
    attempts: Sequence[httpx.Request],
    found: Match,
    receive: Receive,
    send: Send,
    extra: RawHeaders,
    on_start: Callable[[int], None],
) -> tuple[int, str] | None:
    """Send the request (``attempts``: once per target, in balancing order) and relay the answer with
    ``extra`` headers (they win over the upstream's); ``on_start`` runs once the status is sent. The
    error to answer when no target answers."""
    upstream = await _send(client, attempts, found)
    if isinstance(upstream, tuple):
        return upstream
    try:
        names = {k for k, _ in extra}
        out = [(k, v) for k, v in upstream.headers.raw if k.lower() not in HOP_BY_HOP and k.lower() not in names]
        await send({"type": "http.response.start", "status": upstream.status_code, "headers": out + extra})
        on_start(upstream.status_code)
        if "content-length" in upstream.headers:
            async for chunk in upstream.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        else:  # a stream (SSE, chunked): forward chunk by chunk, stop when the client goes away
            await _until_disconnect(receive, _pump(upstream, send))
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except (httpx.HTTPError, OSError):
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        await upstream.aclose()
    return None


def timeout(found: Match) -> httpx.Timeout:
    """The route's service timeouts; no read timeout on an unbuffered route (a stream stays open)."""
    route = found.route
    return httpx.Timeout(
        connect=route.connect_timeout,
        write=route.write_timeout,
        pool=route.connect_timeout,
        read=None if not route.response_buffering else route.read_timeout,
    )


async def _pump(upstream: httpx.Response, send: Send) -> None:
    async for chunk in upstream.aiter_raw():
        await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _until_disconnect(receive: Receive, work: Awaitable[None]) -> None:
    """Run ``work`` until it ends or the client disconnects, whichever comes first."""

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    tasks = [asyncio.ensure_future(work), asyncio.ensure_future(watch())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is tasks[0]:
                task.result()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
