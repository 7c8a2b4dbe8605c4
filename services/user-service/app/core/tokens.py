"""Access tokens (signed JWT, 15 min) and refresh tokens (opaque, stored only as a SHA-256)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from jose import jwt

from app.core.keys import KeyRing
from chat_shared.auth import ACCESS_TOKEN_TYPE


def issue_access_token(ring: KeyRing, *, user_id: int, username: str, issuer: str, audience: str,
                       ttl_s: int, now: datetime) -> str:
    """A signed access token with ``kid`` and ``typ: at+jwt``."""
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": str(user_id),
        "username": username,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_s)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, ring.private_pem, algorithm=ring.algorithm,
                      headers={"kid": ring.kid, "typ": ACCESS_TOKEN_TYPE})


def new_refresh_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """What the database stores: a leak of the table yields no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()
