"""C_http: a bare uvicorn JSON hello-world, run exactly like the services (1 worker,
``--loop uvloop --http httptools --no-access-log``) by ``tests/load/s0_calibration.py``.

A plain ASGI callable (no framework), so it is the ceiling of uvicorn itself on this machine.
"""

from __future__ import annotations

from typing import Any

BODY = b'{"status":"ok"}'
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())],
}
SEND_BODY = {"type": "http.response.body", "body": BODY}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer every HTTP request with a small JSON body."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(START)
    await send(SEND_BODY)
