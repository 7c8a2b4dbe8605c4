"""Request and response bodies of authentication."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, StringConstraints

from chat_shared.schemas import ClosedModel

TokenString = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class LoginJson(ClosedModel):
    """``POST /auth/login/json``."""

    email: EmailStr
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class RefreshRequest(ClosedModel):
    """``POST /auth/refresh`` and ``POST /auth/logout``."""

    refresh_token: TokenString


class TokenPair(BaseModel):
    """Tokens returned by login and refresh."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
