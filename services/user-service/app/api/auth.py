"""``/auth``: register, login (form and JSON), refresh, logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Response, status

from app.api.deps import AuthServiceDep, ClientAddress, ProfileServiceDep, ThrottleDep
from app.schemas.auth import LoginJson, RefreshRequest, TokenPair
from app.schemas.user import OwnProfile, RegisterRequest

router = APIRouter(prefix="/auth", tags=["auth"])

LOGIN_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "Wrong credentials"},
    429: {"description": "Too many failures"},
    503: {"description": "Hashing capacity exhausted"},
}


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=OwnProfile,
    responses={409: {"description": "Email or username taken"}},
)
async def register(body: RegisterRequest, auth: AuthServiceDep, profiles: ProfileServiceDep) -> OwnProfile:
    """Create an account."""
    return await profiles.own(await auth.register(body))


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


@router.post("/refresh", response_model=TokenPair, responses={401: {"description": "Invalid or reused token"}})
async def refresh(body: RefreshRequest, auth: AuthServiceDep) -> TokenPair:
    """Exchange a refresh token for a new pair; the old one stops working."""
    return await auth.refresh(body.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, auth: AuthServiceDep) -> Response:
    """Revoke a refresh token."""
    await auth.logout(body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
