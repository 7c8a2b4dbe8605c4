"""What a push service's answer means for the push and its subscription."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum

import httpx


class Outcome(StrEnum):
    """``gone``: the subscription no longer exists (deleted); ``retry``: try again later; ``failed``: never."""

    SENT = "sent"
    GONE = "gone"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PushResult:
    outcome: Outcome
    #: Seconds the push service asked us to wait (``Retry-After``), when it did.
    retry_after_s: float | None = None
    status: int | None = None


def retry_after(response: httpx.Response, now: float) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), capped at a day; None when absent or bad."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), 86400.0)


def classify(response: httpx.Response, now: float, gone: tuple[int, ...] = (404, 410)) -> PushResult:
    """2xx sent; ``gone`` statuses delete the subscription; 429 and 5xx retry; any other 4xx fails."""
    status = response.status_code
    if 200 <= status < 300:
        return PushResult(Outcome.SENT, status=status)
    if status in gone:
        return PushResult(Outcome.GONE, status=status)
    if status == 429 or status >= 500:
        return PushResult(Outcome.RETRY, retry_after(response, now), status)
    return PushResult(Outcome.FAILED, status=status)
