"""A service run as a real process for a test (``uvicorn main:app`` in its folder), stopped at the end."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx

from chat_shared.testing.broker import free_port

START_TIMEOUT_S = 90.0


@contextlib.asynccontextmanager
async def service_process(
    directory: Path, env: Mapping[str, str], timeout: float = START_TIMEOUT_S
) -> AsyncIterator[str]:
    """Serve the service in ``directory`` with ``env`` on a free port; yields its base URL once ``/health``
    answers. Its output goes to a temporary log file, named when it does not start. The event loop keeps
    running while it starts (the tests' own apps and consumers live in it)."""
    port = free_port()
    with tempfile.NamedTemporaryFile(prefix=f"{directory.name}-", suffix=".log", delete=False) as log:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(port)),
            cwd=directory,
            env=dict(env),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient(base_url=url, timeout=1.0) as probe:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await probe.get("/health")).status_code == 200:
                        break
                if process.returncode is not None or loop.time() > deadline:
                    raise RuntimeError(f"{directory.name} did not start; see {log.name}")
                await asyncio.sleep(0.1)
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
