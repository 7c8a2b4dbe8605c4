"""``/auth``: register, login (form and JSON), refresh, logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Header, Response, status

from app.api.deps import AuthServiceDep, ClientAddress, ProfileServiceDep, ThrottleDep
from app.schemas.auth import LoginJson, RefreshRequest, TokenPair
from app.schemas.user import OwnProfile, RegisterRequest
from chat_shared.mail.locale import pick_locale
from chat_shared.responses import CONFLICT, THROTTLED, TOO_LARGE, UNAVAILABLE, error

router = APIRouter(prefix="/auth", tags=["auth"])

# Too many failures (429), hashing capacity exhausted (503).
LOGIN_ERRORS = error(401, "Wrong credentials") | TOO_LARGE | THROTTLED | UNAVAILABLE


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=OwnProfile,
    responses=CONFLICT | TOO_LARGE | UNAVAILABLE,
)
async def register(
    body: RegisterRequest,
    auth: AuthServiceDep,
    profiles: ProfileServiceDep,
    accept_language: Annotated[str | None, Header(description="Chooses the language of the account's mails")] = None,
) -> OwnProfile:
    """Create an account."""
    return await profiles.own(await auth.register(body, pick_locale(accept_language)))


@router.post("/login", response_model=TokenPair, responses=LOGIN_ERRORS)
async def login_form(
    username: Annotated[str, Form(min_length=1, max_length=254, description="Email or username")],
    password: Annotated[str, Form(min_length=1, max_length=128)],
    auth: AuthServiceDep,
    throttle: ThrottleDep,
    address: ClientAddress,
) -> TokenPair:
    """OAuth2 password flow (form fields ``username`` — email or username — and ``password``)."""
    return await auth.login(username, password, address, throttle)


@router.post("/login/json", response_model=TokenPair, responses=LOGIN_ERRORS)
async def login_json(body: LoginJson, auth: AuthServiceDep, throttle: ThrottleDep, address: ClientAddress) -> TokenPair:
    """Log in with ``{email, password}``."""
    return await auth.login(str(body.email), body.password, address, throttle)


@router.post("/refresh", response_model=TokenPair, responses=error(401, "Invalid or reused token") | TOO_LARGE)
async def refresh(body: RefreshRequest, auth: AuthServiceDep) -> TokenPair:
    """Exchange a refresh token for a new pair; the old one stops working."""
    return await auth.refresh(body.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=TOO_LARGE)
async def logout(body: RefreshRequest, auth: AuthServiceDep) -> Response:
    """End the refresh token's session: its tokens stop working on every service."""
    await auth.logout(body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
