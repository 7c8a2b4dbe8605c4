"""A clock a test moves by hand, for code that takes ``clock: Callable[[], float]`` (a circuit breaker's
window, a JWKS refetch interval, a rate limiter's minute): time passes when the test says so."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ManualClock:
    """Seconds on a monotonic-like scale, starting well after 0 (code may subtract intervals from it)."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        self.now += seconds
