"""A stream ticket in a URL reaches no log line: uvicorn's access log (should a server turn it on) and any
line of ours that quotes a URL show ``ticket=***``; the app's own access line names the route, not the path."""

from __future__ import annotations

import io
import logging
import uuid

import httpx
import uvicorn
from uvicorn.logging import AccessFormatter

from app.core.state import State
from chat_shared.logging import json_formatter
from chat_shared.testing.fixtures import StartedApp
from tests.support import UvicornServer


async def test_uvicorns_access_log_never_shows_a_ticket(app: StartedApp[State]) -> None:
    secret = f"SECRET{uuid.uuid4().hex}"
    # Built before the handler is attached: a server that configures logging replaces the logger's handlers.
    server = UvicornServer(app)
    server.server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=server.port, lifespan="off", access_log=True, log_config=None)
    )
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False))
    access = logging.getLogger("uvicorn.access")
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            assert (await client.get("/stream", params={"ticket": secret})).status_code == 401
            await client.get("/rooms", params={"ticket": secret, "access_token": secret})
    finally:
        await server.stop()
        access.removeHandler(handler)
        access.setLevel(level)
    lines = captured.getvalue()
    assert "GET /stream?ticket=*** HTTP/1.1" in lines, lines
    assert secret not in lines


def test_a_logged_url_shows_no_ticket() -> None:
    secret = f"SECRET{uuid.uuid4().hex}"
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, "HTTP Request: GET %s", (f"http://h/stream?x=1&ticket={secret}",), None
    )
    line = json_formatter("chat-service").format(record)
    assert secret not in line and "ticket=***" in line and "x=1" in line
