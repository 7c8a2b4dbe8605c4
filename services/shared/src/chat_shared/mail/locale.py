"""The language of a user's mails, chosen once from the ``Accept-Language`` of their registration."""

from __future__ import annotations

from typing import Literal

Locale = Literal["ko", "en"]
SUPPORTED: tuple[Locale, ...] = ("ko", "en")
DEFAULT_LOCALE: Locale = "en"


def pick_locale(accept_language: str | None) -> Locale:
    """The supported language the header prefers most (RFC 9110 §12.5.4 q-values), else English.

    ``ko-KR,ko;q=0.9,en;q=0.8`` → ``ko``; ``fr, en;q=0.5`` → ``en``; a malformed header → ``en``.
    """
    best: tuple[float, int, Locale] | None = None
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().split("-", 1)[0].lower()
        if primary not in SUPPORTED:
            continue
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if weight <= 0:
            continue
        candidate = (weight, -position, primary)
        if best is None or candidate[:2] > best[:2]:
            best = (weight, -position, primary)
    return best[2] if best else DEFAULT_LOCALE


def as_locale(value: str | None) -> Locale:
    """A stored locale string as a supported one (an unknown or missing value is English)."""
    return value if value in SUPPORTED else DEFAULT_LOCALE
