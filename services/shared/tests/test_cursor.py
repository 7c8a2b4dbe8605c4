"""The one keyset cursor codec (chat_shared.cursor): what it hands out it takes back, and anything else, of
any shape or size, is a 422 naming ``cursor``, never an overflow further down."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chat_shared import cursor
from chat_shared.errors import Unprocessable

LARGEST = 2**63 - 1


@pytest.mark.parametrize("keys", [(0,), (1,), (LARGEST,), (1767225600000000, 7), (0, LARGEST)])
def test_what_encode_makes_decode_takes_back(keys: tuple[int, ...]) -> None:
    assert cursor.decode(cursor.encode(*keys), len(keys)) == keys


@pytest.mark.parametrize(
    ("raw", "arity"),
    [
        (str(2**63), 1),
        ("100000000000000000000000", 1),
        ("100000000000000000000000_1", 2),
        ("1", 2),
        ("1_2", 1),
        ("-1", 1),
        ("+1", 1),
        ("1_000", 1),
        ("١", 1),  # a digit, but not an ASCII one
        ("", 1),
        ("a_b", 2),
    ],
)
def test_anything_else_is_a_422_naming_the_cursor(raw: str, arity: int) -> None:
    with pytest.raises(Unprocessable) as refused:
        cursor.decode(raw, arity)
    assert refused.value.status_code == 422
    assert refused.value.body()["detail"][0]["loc"] == ["query", "cursor"]


def test_a_time_key_round_trips_to_the_microsecond() -> None:
    at = datetime(2026, 1, 27, 10, 0, 0, 123457, tzinfo=UTC)
    assert cursor.at_micros(cursor.micros(at)) == at


def test_a_time_key_beyond_the_year_9999_is_a_422() -> None:
    with pytest.raises(Unprocessable):
        cursor.at_micros(LARGEST)


def test_last_id_is_none_for_the_first_page() -> None:
    assert cursor.last_id(None) is None
    assert cursor.last_id("42") == 42
