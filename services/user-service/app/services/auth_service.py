"""Registration, login, token refresh with rotation and reuse detection, logout, password change.

A session is a refresh-token family; its id is the ``sid`` of every access token it issues. Ending
sessions (logout, a password change, a reused refresh token) revokes their refresh tokens and stages
``SessionsRevoked`` in the same transaction, so every service stops accepting their access tokens too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.keys import KeyRing
from app.core.metrics import LOGINS, REGISTRATIONS, TOKEN_REFRESHES
from app.core.passwords import PasswordHasher, is_common
from app.core.tokens import hash_refresh_token, issue_access_token, new_refresh_token
from app.kafka import events
from app.models.user import RefreshToken, User
from app.repositories.tokens import RefreshTokenRepository
from app.repositories.users import UserRepository
from app.schemas.auth import TokenPair
from app.schemas.user import RegisterRequest
from app.services.throttle import LoginThrottle, unknown_account, user_account
from chat_shared.db import utcnow
from chat_shared.errors import BadRequest, Conflict, TooManyRequests, Unauthorized, Unprocessable
from chat_shared.events.user import RevocationReason, SessionsRevoked
from chat_shared.mail.locale import DEFAULT_LOCALE, Locale
from chat_shared.outbox import Outbox

INVALID_CREDENTIALS = "Incorrect email/username or password"


@contextmanager
def _counting_throttled_logins() -> Iterator[None]:
    try:
        yield
    except TooManyRequests:
        LOGINS.labels("throttled").inc()
        raise


class RefreshTokenReused(Unauthorized):
    """A rotated token came back: the family is revoked, and that revocation must be committed."""

    keep_changes = True
    default_detail = "Refresh token reuse detected; please log in again"


@dataclass
class AuthService:
    """Account and token use cases; the request's session dependency owns the commit."""

    session: AsyncSession
    settings: Settings
    hasher: PasswordHasher
    keys: KeyRing
    outbox: Outbox

    @property
    def users(self) -> UserRepository:
        return UserRepository(self.session)

    @property
    def tokens(self) -> RefreshTokenRepository:
        return RefreshTokenRepository(self.session)

    async def register(self, body: RegisterRequest, locale: Locale = DEFAULT_LOCALE) -> User:
        """Create an account and stage ``UserRegistered`` (with the e-mail and the language of the welcome
        mail); 409 on a duplicate, 422 on a common password."""
        async with self.hasher.admit():
            return await self._register(body, locale)

    async def _register(self, body: RegisterRequest, locale: Locale) -> User:
        if is_common(body.password):
            raise Unprocessable("This password is too common; choose another", loc=("body", "password"))
        email_key, username_key = str(body.email).lower(), body.username.lower()
        email_taken, username_taken = await self.users.taken(email_key, username_key)
        if email_taken or username_taken:
            raise Conflict("Email already registered" if email_taken else "Username already taken")
        now = utcnow()
        user = User(
            email=str(body.email),
            email_key=email_key,
            username=body.username,
            username_key=username_key,
            display_name=body.display_name or body.username,
            password_hash=await self.hasher.hash(body.password),
            created_at=now,
            updated_at=now,
        )
        self.session.add(user)
        try:
            await self.session.flush()
        except IntegrityError as exc:  # a concurrent registration won the unique key
            raise Conflict("Email or username already registered") from exc
        self.outbox.add(self.session, events.user_registered(user, locale))
        REGISTRATIONS.inc()
        return user

    async def login(self, identifier: str, password: str, address: str, throttle: LoginThrottle) -> TokenPair:
        """Tokens for valid credentials; the same 401 (and about the same time) whether the account exists."""
        with _counting_throttled_logins():
            await throttle.check_address(address)
        async with self.hasher.admit():
            return await self._login(identifier, password, address, throttle)

    async def _login(self, identifier: str, password: str, address: str, throttle: LoginThrottle) -> TokenPair:
        user = await self.users.by_login(identifier)
        account = user_account(user.id) if user else unknown_account(identifier)
        with _counting_throttled_logins():
            await throttle.check(account, address)
        ok, needs_rehash = await self.hasher.verify(password, user.password_hash if user else None)
        if user is None or not ok:
            await throttle.failed(account, address)
            LOGINS.labels("invalid_credentials").inc()
            raise Unauthorized(INVALID_CREDENTIALS)
        await throttle.succeeded(account, address)
        if needs_rehash:
            user.password_hash = await self.hasher.hash(password)
        LOGINS.labels("success").inc()
        return await self._issue(user, family_id=uuid.uuid4().hex, now=utcnow())

    async def refresh(self, raw_token: str) -> TokenPair:
        """Rotate a refresh token; presenting a rotated one revokes its whole family."""
        now = utcnow()
        token = await self.tokens.by_hash(hash_refresh_token(raw_token), for_update=True)
        if token is None:
            TOKEN_REFRESHES.labels("invalid").inc()
            raise Unauthorized("Invalid refresh token")
        if token.rotated_at is not None:
            if await self.tokens.family_is_live(token.family_id, now):
                await self._end_sessions(token.user_id, [token.family_id], RevocationReason.REFRESH_TOKEN_REUSE, now)
            TOKEN_REFRESHES.labels("reused").inc()
            raise RefreshTokenReused()
        if token.revoked_at is not None or token.expires_at <= now:
            TOKEN_REFRESHES.labels("invalid").inc()
            raise Unauthorized("Invalid refresh token")
        user = await self.users.get(token.user_id)
        if user is None:
            raise Unauthorized("Invalid refresh token")
        token.rotated_at = now
        token.revoked_at = now
        TOKEN_REFRESHES.labels("ok").inc()
        return await self._issue(user, family_id=token.family_id, now=now)

    async def logout(self, raw_token: str) -> None:
        """End the token's session: its refresh tokens and, on every service, its access tokens, stream
        tickets and open streams. Unknown tokens and sessions already ended are accepted silently."""
        now = utcnow()
        token = await self.tokens.by_hash(hash_refresh_token(raw_token), for_update=True)
        if token is not None and await self.tokens.family_is_live(token.family_id, now):
            await self._end_sessions(token.user_id, [token.family_id], RevocationReason.LOGOUT, now)

    async def change_password(
        self, user_id: int, current: str, new: str, address: str, throttle: LoginThrottle
    ) -> None:
        """Check the current password, store the new one, end every session (the caller's too).

        A wrong current password is a password guess like a failed login, throttled by the same counters.
        """
        account = user_account(user_id)
        await throttle.check(account, address)
        async with self.hasher.admit():
            await self._change_password(user_id, current, new, address, throttle)
        await throttle.succeeded(account, address)

    async def _change_password(
        self, user_id: int, current: str, new: str, address: str, throttle: LoginThrottle
    ) -> None:
        user = await self.users.get(user_id, for_update=True)
        if user is None:
            raise Unauthorized("Account no longer exists")
        ok, _ = await self.hasher.verify(current, user.password_hash)
        if not ok:
            await throttle.failed(user_account(user_id), address)
            raise BadRequest("Current password is incorrect")
        if is_common(new):
            raise Unprocessable("This password is too common; choose another", loc=("body", "new_password"))
        user.password_hash = await self.hasher.hash(new)
        user.updated_at = utcnow()
        sessions = await self.tokens.live_families(user.id, user.updated_at)
        await self.tokens.revoke_user(user.id, user.updated_at)
        # Every session ends, the caller's too (its refresh token is revoked with the others): the sessions
        # are named, and not_before also kills any token of the user issued before the change.
        self.outbox.add(
            self.session,
            SessionsRevoked(
                user_id=user.id,
                session_ids=sessions,
                not_before=user.updated_at,
                reason=RevocationReason.PASSWORD_CHANGE,
                revoked_at=user.updated_at,
            ),
        )

    async def _end_sessions(self, user_id: int, sessions: list[str], reason: RevocationReason, now: datetime) -> None:
        """Revoke the sessions' refresh tokens and announce it, in this transaction."""
        for family_id in sessions:
            await self.tokens.revoke_family(family_id, now)
        self.outbox.add(
            self.session, SessionsRevoked(user_id=user_id, session_ids=sessions, reason=reason, revoked_at=now)
        )

    async def _issue(self, user: User, family_id: str, now: datetime) -> TokenPair:
        raw = new_refresh_token()
        expires_at = now + timedelta(seconds=self.settings.refresh_token_ttl_s)
        self.tokens.add(
            RefreshToken(
                user_id=user.id,
                family_id=family_id,
                token_hash=hash_refresh_token(raw),
                issued_at=now,
                expires_at=expires_at,
            )
        )
        access = issue_access_token(
            self.keys,
            user_id=user.id,
            username=user.username,
            session_id=family_id,
            issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience,
            ttl_s=self.settings.access_token_ttl_s,
            now=now,
        )
        return TokenPair(access_token=access, refresh_token=raw, expires_in=self.settings.access_token_ttl_s)
