"""Access-token verification for every service (python-jose, public keys only).

Only the configured asymmetric algorithm is accepted (never HS*, never ``none``); ``typ``, ``iss``,
``aud`` and ``exp`` are checked; the key is chosen by ``kid`` from user-service's JWKS (cached,
refetched when an unknown ``kid`` appears, so a rotated key is picked up without a restart). A token of a
revoked session (its ``sid``), or issued before its user's not-before time, is refused from the process's
in-memory revocations (:mod:`chat_shared.revocation`): no network call per request.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol

import httpx
import structlog
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jose import jwk, jwt
from jose.exceptions import ExpiredSignatureError, JOSEError

from chat_shared.errors import Unauthorized
from chat_shared.revocation import Revocations
from chat_shared.settings import ServiceSettings
from chat_shared.state import core_state

log = structlog.get_logger("chat_shared.auth")

ACCESS_TOKEN_TYPE = "at+jwt"
ALLOWED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"})


@dataclass(frozen=True)
class AuthUser:
    """The authenticated caller, as the access token names them."""

    id: int
    username: str
    token_id: str
    #: The session (refresh-token family) the token belongs to; None only in tokens older than sessions.
    sid: str | None = None
    #: The token's ``iat``, seconds since the epoch (a user's not-before time is compared with it).
    issued_at: int = 0


class KeySource(Protocol):
    """Where verification keys come from: a JWKS URL or keys configured locally."""

    async def key_for(self, kid: str) -> dict[str, Any] | None:
        """The JWK for ``kid``, or None."""
        ...


class StaticKeys:
    """Keys known in-process (user-service itself, or a public key mounted as a secret)."""

    def __init__(self, keys: dict[str, dict[str, Any]]) -> None:
        self._keys = keys

    async def key_for(self, kid: str) -> dict[str, Any] | None:
        """The configured key with this kid."""
        return self._keys.get(kid)


def public_pem_to_jwk(pem: str, kid: str, algorithm: str) -> dict[str, Any]:
    """A public JWK dict (with ``kid``, ``alg``, ``use``) from a PEM public key."""
    key = jwk.construct(pem, algorithm).public_key()
    data: dict[str, Any] = key.to_dict()
    data.update({"kid": kid, "alg": algorithm, "use": "sig"})
    return data


class JwksKeys:
    """Keys fetched from a JWKS endpoint, cached for ``ttl`` seconds.

    An unknown ``kid`` triggers at most one refetch per ``min_refetch`` seconds, so garbage tokens
    cannot make us hammer user-service.
    """

    def __init__(
        self, url: str, ttl: float = 300.0, min_refetch: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._url = url
        self._ttl = ttl
        self._min_refetch = min_refetch
        self._clock = clock
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at = -math.inf  # never: the first lookup fetches, however young the clock
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> dict[str, Any] | None:
        """The JWK for ``kid``, refreshing the cache when stale or when the kid is new."""
        now = self._clock()
        stale = now - self._fetched_at > self._ttl
        unknown_and_due = kid not in self._keys and now - self._fetched_at > self._min_refetch
        if stale or unknown_and_due:
            await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        async with self._lock:
            if self._clock() - self._fetched_at < 1.0:
                return
            try:
                async with httpx.AsyncClient(timeout=3.0) as client:
                    response = await client.get(self._url)
                    response.raise_for_status()
                    self._keys = {k["kid"]: k for k in response.json()["keys"] if "kid" in k}
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                # Keep serving with the keys we have; an outage of user-service must not log everyone out.
                log.warning("jwks_fetch_failed", url=self._url, error=repr(exc)[:200])
            finally:
                self._fetched_at = self._clock()


class TokenVerifier:
    """Verifies access tokens exactly as CONTRACT §3 requires."""

    def __init__(
        self, keys: KeySource, algorithm: str, issuer: str, audience: str, *, revocations: Revocations
    ) -> None:
        if algorithm not in ALLOWED_ALGORITHMS:
            raise ValueError(f"JWT algorithm {algorithm!r} is not an allowed asymmetric algorithm")
        self._keys = keys
        self._algorithm = algorithm
        # Building a key object from a JWK costs ~0.1 ms; reuse it while the JWKS entry is unchanged.
        self._key_objects: dict[str, tuple[dict[str, Any], Any]] = {}
        self._issuer = issuer
        self._audience = audience
        self.revocations = revocations

    async def verify(self, token: str) -> AuthUser:
        """The caller named by a valid token; raises :class:`Unauthorized` otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError as exc:
            raise Unauthorized("Invalid token") from exc
        if header.get("alg") != self._algorithm or header.get("typ") != ACCESS_TOKEN_TYPE:
            raise Unauthorized("Invalid token")
        kid = header.get("kid")
        key = await self._keys.key_for(kid) if isinstance(kid, str) else None
        if key is None:
            raise Unauthorized("Invalid token")
        try:
            claims = jwt.decode(
                token,
                self._key_object(kid, key),
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "require_exp": True,
                    "require_iat": True,
                    "require_sub": True,
                    "require_jti": True,
                    "require_aud": True,
                    "require_iss": True,
                },
            )
        except ExpiredSignatureError as exc:
            raise Unauthorized("Token expired") from exc
        except JOSEError as exc:
            raise Unauthorized("Invalid token") from exc
        try:
            sid = claims.get("sid")
            user = AuthUser(
                id=int(claims["sub"]),
                username=str(claims.get("username", "")),
                token_id=str(claims["jti"]),
                sid=None if sid is None else str(sid),
                issued_at=int(claims["iat"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise Unauthorized("Invalid token") from exc
        if self.revocations.is_revoked(user.id, user.sid, user.issued_at):
            raise Unauthorized("Session revoked")
        return user

    def _key_object(self, kid: str, key: dict[str, Any]) -> Any:
        cached = self._key_objects.get(kid)
        if cached is None or cached[0] != key:
            cached = (key, jwk.construct(key, self._algorithm))
            self._key_objects[kid] = cached
        return cached[1]


def signing_key(private_pem: str, algorithm: str) -> Any:
    """A ready signing key. Build it once: loading a PEM RSA private key validates it (~50 ms of CPU),
    which would otherwise be paid on every login."""
    return jwk.construct(private_pem, algorithm)


def sign_access_token(
    private_key: Any,
    kid: str,
    algorithm: str,
    *,
    user_id: int,
    username: str,
    issuer: str,
    audience: str,
    ttl_s: int,
    now: datetime,
    sid: str | None,
) -> str:
    """An access token in the one format :class:`TokenVerifier` accepts (user-service and tests sign).

    ``private_key`` is a key from :func:`signing_key` (or a PEM, at ~50 ms per call); ``sid`` names the
    session (refresh-token family) the token belongs to, so revoking the session kills the token.
    """
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": str(user_id),
        "username": username,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_s)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    if sid is not None:
        claims["sid"] = sid
    return jwt.encode(claims, private_key, algorithm=algorithm, headers={"kid": kid, "typ": ACCESS_TOKEN_TYPE})


def build_verifier(settings: ServiceSettings, revocations: Revocations) -> TokenVerifier:
    """A verifier from settings (a configured public key if given, else the JWKS URL) that refuses the
    tokens ``revocations`` names."""
    source: KeySource
    if settings.jwt_public_key:
        kid = settings.jwt_public_key_id or "configured"
        source = StaticKeys({kid: public_pem_to_jwk(settings.jwt_public_key, kid, settings.jwt_algorithm)})
    else:
        source = JwksKeys(settings.jwks_url)
    return TokenVerifier(
        source, settings.jwt_algorithm, settings.jwt_issuer, settings.jwt_audience, revocations=revocations
    )


def mark_user(request: Request, user_id: int) -> None:
    """Make the caller's id part of this request's access log and log context."""
    request.scope.setdefault("state", {})["user_id"] = user_id
    structlog.contextvars.bind_contextvars(user_id=user_id)


# ``Authorization: Bearer <token>``, declared as the security scheme of every route that depends on it, so
# the OpenAPI documents say which routes need a token. Refusing is ours (401 with ``WWW-Authenticate``).
_BEARER = HTTPBearer(auto_error=False, description="An access token from `POST /auth/login` (CONTRACT §3)")


async def get_current_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)]
) -> AuthUser:
    """The verified caller; 401 without a valid bearer token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Not authenticated")
    user = await core_state(request).verifier.verify(credentials.credentials)
    mark_user(request, user.id)
    return user


CurrentUser = Annotated[AuthUser, Depends(get_current_user)]
