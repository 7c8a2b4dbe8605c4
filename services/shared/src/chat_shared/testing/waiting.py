"""Waiting on conditions instead of sleeping: poll until something holds, with a bound that only guards
against a hang.

A test states what it waits for; how long that takes is not what it tests, so the bound is generous
(a loaded CI machine may be ten times slower than a laptop) and reaching it fails the test with the
condition's name and the probe's last complaint.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

#: How long a wait may take before the test fails as hung; never a claim about speed.
HANG_GUARD_S = 60.0


def _timed_out(what: str, timeout: float, last: AssertionError | None) -> AssertionError:
    return AssertionError(f"timed out after {timeout:g}s waiting for {what}" + (f": {last}" if last else ""))


@overload
async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str = ..., *, timeout: float = ..., interval: float = ...
) -> T: ...


@overload
async def eventually(
    probe: Callable[[], T | None], what: str = ..., *, timeout: float = ..., interval: float = ...
) -> T: ...


async def eventually(
    probe: Callable[[], Any],
    what: str = "the condition",
    *,
    timeout: float = HANG_GUARD_S,
    interval: float = 0.05,
) -> Any:
    """Call ``probe`` (sync or async) until it returns a truthy value, and return that value.

    A probe may also ``assert``: an ``AssertionError`` counts as "not yet", and the last one is part of
    the failure message if the wait reaches ``timeout``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: AssertionError | None = None
    while True:
        try:
            result = probe()
            if inspect.isawaitable(result):
                result = await result
        except AssertionError as exc:
            result, last = None, exc
        if result:
            return result
        if loop.time() > deadline:
            raise _timed_out(what, timeout, last)
        await asyncio.sleep(interval)


def eventually_sync(
    probe: Callable[[], T | None],
    what: str = "the condition",
    *,
    timeout: float = HANG_GUARD_S,
    interval: float = 0.05,
) -> T:
    """:func:`eventually` for code without an event loop (a sync fixture waiting on a subprocess)."""
    deadline = time.monotonic() + timeout
    last: AssertionError | None = None
    while True:
        try:
            result = probe()
        except AssertionError as exc:
            result, last = None, exc
        if result:
            return result
        if time.monotonic() > deadline:
            raise _timed_out(what, timeout, last)
        time.sleep(interval)
