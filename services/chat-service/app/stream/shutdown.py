"""Close streams as soon as the server begins to stop, not after it has waited for them.

uvicorn waits for open connections to finish *before* it runs the lifespan shutdown, so a stream that
waits for its client would hold a rolling deploy for the whole graceful timeout. Like sse-starlette, we
hook ``uvicorn.Server.handle_exit`` (SIGTERM/SIGINT, also under gunicorn's uvicorn worker) and end every
stream at once; clients reconnect with ``Last-Event-ID`` to another replica.
"""

from __future__ import annotations

from typing import Any

from app.stream.hub import StreamHub

_HUBS: set[StreamHub] = set()
_PATCHED = False


def watch(hub: StreamHub) -> None:
    """Close this hub's streams when the server is asked to exit."""
    global _PATCHED
    _HUBS.add(hub)
    if _PATCHED:
        return
    try:
        from uvicorn.server import Server
    except ImportError:  # pragma: no cover - another server: lifespan shutdown still closes streams
        return
    original = Server.handle_exit

    def handle_exit(self: Any, sig: int, frame: Any) -> None:
        for watched in list(_HUBS):
            watched.request_shutdown()
        original(self, sig, frame)

    Server.handle_exit = handle_exit  # type: ignore[method-assign]
    _PATCHED = True


def forget(hub: StreamHub) -> None:
    """Stop watching a hub (its app shut down)."""
    _HUBS.discard(hub)
