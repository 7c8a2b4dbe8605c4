"""Validated text fields of user-service's bodies (the building blocks every service uses are in
chat_shared.schemas)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _clean_text(value: str) -> str:
    value = value.strip()
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _http_url(value: str) -> str:
    value = value.strip()
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.IGNORECASE):
        raise ValueError("must be an http(s) URL")
    return value


CleanText = Annotated[str, AfterValidator(_clean_text)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
