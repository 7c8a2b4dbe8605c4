"""Processes a test starts (a service under uvicorn, a broker, Prometheus): wait until they answer, stop them
for sure.

A process that dies while a test waits for it fails the wait at once, with the tail of its log, instead
of letting the test run into its hang guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx

from chat_shared.testing.waiting import HANG_GUARD_S, eventually, eventually_sync

#: How long a process gets to exit after its stop signal before it is killed.
STOP_GRACE_S = 15.0


class ProcessExited(RuntimeError):
    """The process a test waits for has exited (not an AssertionError: a wait stops at once on it)."""


def free_port() -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(log: Path | None, size: int = 4000) -> str:
    """The end of a process's log file, for a failure message."""
    if log is None or not log.is_file():
        return ""
    return "\n" + log.read_text(encoding="utf-8", errors="replace")[-size:]


def ensure_running(process: subprocess.Popen[bytes], what: str, log: Path | None = None) -> None:
    """Raise :class:`ProcessExited` (with the log's tail) if ``process`` has exited."""
    if process.poll() is not None:
        raise ProcessExited(f"{what} exited with {process.returncode}{log_tail(log)}")


def stop_process(
    process: subprocess.Popen[bytes],
    *,
    sig: signal.Signals = signal.SIGTERM,
    grace: float = STOP_GRACE_S,
    group: bool = False,
) -> None:
    """Send ``sig`` (SIGTERM, or SIGINT for a Ctrl-C), wait ``grace`` seconds, then SIGKILL.

    ``group`` kills the whole process group (a process started with ``start_new_session=True`` whose
    children must not outlive it) when the grace runs out.
    """
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait()


async def wait_for_http(
    url: str,
    process: subprocess.Popen[bytes] | None = None,
    *,
    what: str = "the server",
    log: Path | None = None,
    timeout: float = HANG_GUARD_S,
) -> None:
    """Poll ``GET url`` until it answers 200; fail at once if ``process`` exits meanwhile."""
    async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:

        async def answers() -> bool:
            if process is not None:
                ensure_running(process, what, log)
            try:
                return (await client.get(url)).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            await eventually(answers, f"{what} to answer {url}", timeout=timeout, interval=0.1)
        except AssertionError as exc:
            raise AssertionError(f"{exc}{log_tail(log)}") from None


def wait_for_http_sync(
    url: str,
    process: subprocess.Popen[bytes] | None = None,
    *,
    what: str = "the server",
    log: Path | None = None,
    timeout: float = HANG_GUARD_S,
) -> None:
    """:func:`wait_for_http` for a sync fixture."""
    with httpx.Client(timeout=2.0, trust_env=False) as client:

        def answers() -> bool:
            if process is not None:
                ensure_running(process, what, log)
            try:
                return client.get(url).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            eventually_sync(answers, f"{what} to answer {url}", timeout=timeout, interval=0.1)
        except AssertionError as exc:
            raise AssertionError(f"{exc}{log_tail(log)}") from None


@contextlib.asynccontextmanager
async def service_process(directory: Path, env: Mapping[str, str]) -> AsyncIterator[str]:
    """Serve the service in ``directory`` (``uvicorn main:app``) with ``env`` on a free port; yields its base
    URL once ``/health`` answers and stops it at the end. Its output goes to a temporary log file whose tail
    a failed start shows. The event loop keeps running while it starts (the test's own apps live in it)."""
    port = free_port()
    with tempfile.NamedTemporaryFile(prefix=f"{directory.name}-", suffix=".log", delete=False) as log:
        process = subprocess.Popen(  # noqa: S603, ASYNC220 - our own interpreter and module; waiting on it is async below
            [sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=directory,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_for_http(f"{url}/health", process, what=directory.name, log=Path(log.name))
        yield url
    finally:
        await asyncio.to_thread(stop_process, process)
