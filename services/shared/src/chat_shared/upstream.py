"""Calls from one service to another: bounded in time and guarded by a circuit breaker.

After ``threshold`` consecutive failures the circuit opens for ``open_s`` seconds and calls fail at once
instead of waiting on a dependency that is down. After that window one call goes through (half-open); its
success closes the circuit, its failure opens it again. Only the dependency being down counts as a
failure (no connection, a timeout, a 5xx): a 4xx means it answered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

import httpx
import structlog

from chat_shared import tracing

log = structlog.get_logger(__name__)


class CircuitBreaker:
    """Open after ``threshold`` consecutive failures, for ``open_s`` seconds."""

    def __init__(
        self, threshold: int, open_s: float, name: str = "upstream", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.open_s = open_s
        self.name = name
        self._clock = clock
        self.failures = 0
        self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        """True while calls are refused without trying."""
        return self._clock() < self._open_until

    def retry_after(self) -> int:
        """Seconds until the next trial call is let through."""
        return max(1, int(self._open_until - self._clock() + 0.999))

    def success(self) -> None:
        """A call worked: close the circuit."""
        self.failures = 0
        self._open_until = 0.0

    def failure(self) -> None:
        """A call failed; open the circuit once failures reach the threshold."""
        self.failures += 1
        if self.failures >= self.threshold:
            self._open_until = self._clock() + self.open_s
            log.warning("circuit_open", upstream=self.name, failures=self.failures, open_s=self.open_s)

    def reset(self) -> None:
        """Forget past failures (tests, or an operator after a fix)."""
        self.success()


class UpstreamUnavailable(Exception):
    """The other service did not give a usable answer; ``circuit_open`` when it was not even asked."""

    def __init__(self, reason: str, *, circuit_open: bool = False, retry_after: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.circuit_open = circuit_open
        self.retry_after = retry_after


class Upstream:
    """Another service's HTTP API: a pooled client whose GETs carry the trace and the caller's credentials."""

    def __init__(
        self,
        name: str,
        base_url: str,
        timeout_s: float,
        threshold: int,
        open_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.breaker = CircuitBreaker(threshold, open_s, name, clock)
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=httpx.Timeout(timeout_s))

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    def _unusable(self, reason: str, counts: bool = True) -> UpstreamUnavailable:
        """The error for an unusable answer; ``counts`` towards opening the circuit."""
        if counts:
            self.breaker.failure()
        return UpstreamUnavailable(reason[:200])

    async def get(self, path: str, params: Mapping[str, str | list[str]], authorization: str | None) -> httpx.Response:
        """A 200 response of ``GET path``, else :class:`UpstreamUnavailable` — within ``timeout_s`` overall."""
        if self.breaker.is_open:
            raise UpstreamUnavailable("circuit open", circuit_open=True, retry_after=self.breaker.retry_after())
        headers = tracing.outgoing_headers()
        if authorization:
            headers["Authorization"] = authorization
        try:
            response = await asyncio.wait_for(self._client.get(path, params=params, headers=headers), self.timeout_s)
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            raise self._unusable(repr(exc)) from exc
        if response.status_code >= 500:
            raise self._unusable(f"status {response.status_code}")
        if response.status_code != 200:
            raise self._unusable(f"status {response.status_code}", counts=False)
        self.breaker.success()
        return response
