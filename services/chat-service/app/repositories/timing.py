"""Latency of MongoDB calls: ``store_call_duration_seconds{service="chat-service", store="mongo", operation}``.

Every Beanie/Motor call of chat-service goes through a repository method, so the repositories are the one
place to time them: a decorator per method names its operation (``find``, ``insert``, ``update``,
``count``, ``delete``), or, in a method that may return without asking MongoDB, a ``with`` block around
the call itself (a skipped call recorded as a 0 s one would flatter the percentiles).

Timing here rather than with a pymongo ``CommandListener`` also covers the in-process mongomock of the
no-Docker mode and the tests, and measures what a request waits for, Beanie's document parsing included.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import ParamSpec, TypeVar

from chat_shared import metrics

SERVICE = "chat-service"
P = ParamSpec("P")
R = TypeVar("R")


def mongo_call(operation: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Decorate an async repository method that always makes its MongoDB call (or two of the same kind)."""

    def decorate(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(func)
        async def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            try:
                return await func(*args, **kwargs)
            finally:
                metrics.observe_store_call(SERVICE, "mongo", operation, time.perf_counter() - started)

        return timed

    return decorate


@contextlib.contextmanager
def mongo_timer(operation: str) -> Iterator[None]:
    """Time the MongoDB call(s) inside the block."""
    started = time.perf_counter()
    try:
        yield
    finally:
        metrics.observe_store_call(SERVICE, "mongo", operation, time.perf_counter() - started)
