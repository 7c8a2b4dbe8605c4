"""The keyset cursor of every paginated list: one codec, one query parameter, one 422.

A cursor is the key of the last row of a page, one or more integers in ``0 … 2⁶³−1`` joined by ``_``
(``"42"``, ``"1767225600000000_7"``). Clients treat it as opaque; the server takes back only what it could
have handed out, so a malformed or out-of-range cursor is a 422 naming ``cursor`` before any query runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Query

from chat_shared.errors import Unprocessable
from chat_shared.schemas import ID_LIMIT

_KEY = "(0|[1-9][0-9]{0,18})"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LOC = ("query", "cursor")


def _query(arity: int) -> Any:
    pattern = "^" + "_".join([_KEY] * arity) + "$"
    return Query(max_length=20 * arity, pattern=pattern, description="`next_cursor` of the previous page")


#: ``?cursor=`` of a list keyed by one integer (an id).
Cursor = Annotated[str | None, _query(1)]
#: ``?cursor=`` of a list keyed by a time and an id (a list ordered by activity).
TimeCursor = Annotated[str | None, _query(2)]


def encode(*keys: int) -> str:
    """The cursor of a page whose last row has these keys."""
    return "_".join(str(key) for key in keys)


def decode(raw: str, arity: int) -> tuple[int, ...]:
    """The keys of a cursor :func:`encode` made; 422 for anything else."""
    parts = raw.split("_")
    if len(parts) != arity or not all(part.isascii() and part.isdigit() for part in parts):
        raise Unprocessable("invalid cursor", loc=_LOC)
    keys = tuple(int(part) for part in parts)
    if any(key >= ID_LIMIT for key in keys):
        raise Unprocessable("invalid cursor", loc=_LOC)
    return keys


def last_id(raw: str | None) -> int | None:
    """The id of the last row of the previous page, as its one-key cursor names it; None for the first page."""
    return None if raw is None else decode(raw, 1)[0]


def micros(at: datetime) -> int:
    """A UTC time as microseconds since the epoch, the time key of a :data:`TimeCursor`."""
    return (at.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)


def at_micros(value: int) -> datetime:
    """The inverse of :func:`micros`; 422 for a count of microseconds beyond the year 9999."""
    try:
        return _EPOCH + timedelta(microseconds=value)
    except OverflowError as exc:
        raise Unprocessable("invalid cursor", loc=_LOC) from exc
