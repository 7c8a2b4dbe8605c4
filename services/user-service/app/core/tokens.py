"""Access tokens (signed JWT, 15 min) and refresh tokens (opaque, stored only as a SHA-256)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from app.core.keys import KeyRing
from chat_shared.auth import sign_access_token


def issue_access_token(
    ring: KeyRing,
    *,
    user_id: int,
    username: str,
    session_id: str,
    issuer: str,
    audience: str,
    ttl_s: int,
    now: datetime,
) -> str:
    """A token signed with the current key, carrying its ``kid`` and ``typ: at+jwt``, and the session it
    belongs to as ``sid`` (the refresh-token family: revoking the session kills its access tokens)."""
    return sign_access_token(
        ring.signing_key,
        ring.kid,
        ring.algorithm,
        user_id=user_id,
        username=username,
        issuer=issuer,
        audience=audience,
        ttl_s=ttl_s,
        now=now,
        sid=session_id,
    )


def new_refresh_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """What the database stores: a leak of the table yields no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()
