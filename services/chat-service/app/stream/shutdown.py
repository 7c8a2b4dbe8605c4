"""Close streams as soon as the server begins to stop, not after it has waited for them.

uvicorn waits for open connections to finish *before* it runs the lifespan shutdown, so a stream that
waits for its client would hold a rolling deploy for the whole graceful timeout. Like sse-starlette, we
hook ``uvicorn.Server.handle_exit`` (SIGTERM/SIGINT, also under gunicorn's uvicorn worker) and end every
stream at once; clients reconnect with ``Last-Event-ID`` to another replica. uvicorn installs its signal
handlers before the lifespan runs (binding the method then), so we also chain whatever Python handler is
installed for SIGTERM/SIGINT when the app starts.
"""

from __future__ import annotations

import contextlib
import signal
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
    _chain_signal_handlers()
    try:
        from uvicorn.server import Server
    except ImportError:  # pragma: no cover - another server: lifespan shutdown still closes streams
        return
    original = Server.handle_exit

    def handle_exit(self: Any, sig: int, frame: Any) -> None:
        _shutdown_all()
        original(self, sig, frame)

    Server.handle_exit = handle_exit  # type: ignore[method-assign]
    _PATCHED = True


def _shutdown_all() -> None:
    for watched in list(_HUBS):
        watched.request_shutdown()


def _chain_signal_handlers() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue  # default/ignored: the lifespan shutdown still closes the streams

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            _shutdown_all()
            previous(signum, frame)

        with contextlib.suppress(ValueError):  # not the main thread (e.g. a server run in a test thread)
            signal.signal(sig, handler)


def forget(hub: StreamHub) -> None:
    """Stop watching a hub (its app shut down)."""
    _HUBS.discard(hub)
