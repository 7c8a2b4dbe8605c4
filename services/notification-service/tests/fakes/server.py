"""A Starlette app served by uvicorn on a free loopback port, inside the test's event loop."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Self

import uvicorn

from chat_shared.testing.waiting import eventually


class LocalServer:
    """Serve ``self.app`` on 127.0.0.1 for the duration of ``async with``."""

    app: Any

    async def __aenter__(self) -> Self:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        await eventually(lambda: self._server.started, "the local server to listen")
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        await self._task
