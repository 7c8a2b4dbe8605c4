"""CONTRACT §3 tokens: claims, refresh rotation and reuse, logout, password change, every bad token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from jose import jwt

from app.core.keys import generate_private_pem, public_pem
from chat_shared.auth import sign_access_token

from .conftest import auth_headers, login, register


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_access_token_claims_and_header(client: httpx.AsyncClient) -> None:
    user = await register(client)
    token = (await login(client, user["email"]))["access_token"]
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": "test-key"}
    claims = jwt.get_unverified_claims(token)
    assert claims["sub"] == str(user["id"]) and claims["username"] == user["username"]
    assert claims["iss"] == "bigtech-chat" and claims["aud"] == "bigtech-chat-api"
    assert claims["exp"] - claims["iat"] == 900 and claims["jti"]


async def test_jwks_serves_the_public_key_only(client: httpx.AsyncClient) -> None:
    keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert [k["kid"] for k in keys] == ["test-key"]
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and "d" not in keys[0]


async def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.AsyncClient) -> None:
    user = await register(client)
    first = await login(client, user["email"])
    second = (await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    assert second["refresh_token"] != first["refresh_token"]
    third = await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert third.status_code == 200
    reused = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    # The whole family is revoked, including the newest token.
    latest = await client.post("/auth/refresh", json={"refresh_token": third.json()["refresh_token"]})
    assert latest.status_code == 401
    # Another session (another family) is untouched.
    other = await login(client, user["email"])
    assert (await client.post("/auth/refresh", json={"refresh_token": other["refresh_token"]})).status_code == 200


async def test_logout_revokes(client: httpx.AsyncClient) -> None:
    user = await register(client)
    tokens = await login(client, user["email"])
    assert (await client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})).status_code == 204
    assert (await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code == 401


async def test_password_change_revokes_refresh_tokens(client: httpx.AsyncClient) -> None:
    user = await register(client)
    tokens = await login(client, user["email"])
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    wrong = await client.put(
        "/profile/me/password",
        headers=headers,
        json={"current_password": "not-it-123", "new_password": "new-password-42"},
    )
    assert wrong.status_code == 400
    ok = await client.put(
        "/profile/me/password",
        headers=headers,
        json={"current_password": "correct-horse-9", "new_password": "new-password-42"},
    )
    assert ok.status_code == 204
    assert (await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code == 401
    await login(client, user["email"], "new-password-42")
    old = await client.post("/auth/login/json", json={"email": user["email"], "password": "correct-horse-9"})
    assert old.status_code == 401


def hs256_with(secret: str, claims: dict[str, Any]) -> str:
    """The classic key-confusion attack: HMAC-sign with the public key as the secret."""
    signing_input = b64({"alg": "HS256", "typ": "at+jwt", "kid": "test-key"}) + "." + b64(claims)
    digest = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _bad_tokens(private_key: str, user_id: int) -> dict[str, str]:
    now = datetime.now(UTC)
    good_args: dict[str, Any] = {
        "user_id": user_id,
        "username": "u",
        "issuer": "bigtech-chat",
        "audience": "bigtech-chat-api",
        "ttl_s": 900,
        "now": now,
        "sid": "0" * 32,
    }
    good = sign_access_token(private_key, "test-key", "RS256", **good_args)
    head, body, sig = good.split(".")
    claims = jwt.get_unverified_claims(good)
    other_key = generate_private_pem()
    return {
        "garbage": "not.a.token",
        "empty-ish": "e30.e30.",
        "expired": sign_access_token(
            private_key, "test-key", "RS256", **{**good_args, "now": now - timedelta(hours=1)}
        ),
        "alg none": b64({"alg": "none", "typ": "at+jwt", "kid": "test-key"}) + "." + body + ".",
        "hs256 with public key": hs256_with(public_pem(private_key), claims),
        "tampered": head + "." + b64({**claims, "sub": "999999"}) + "." + sig,
        "wrong kid": sign_access_token(private_key, "other-kid", "RS256", **good_args),
        "other key same kid": sign_access_token(other_key, "test-key", "RS256", **good_args),
        "wrong iss": sign_access_token(private_key, "test-key", "RS256", **{**good_args, "issuer": "evil"}),
        "wrong aud": sign_access_token(private_key, "test-key", "RS256", **{**good_args, "audience": "other"}),
        "wrong typ": jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": "test-key", "typ": "JWT"}),
    }


async def test_every_bad_token_is_401(client: httpx.AsyncClient, private_key: str) -> None:
    user, _ = await auth_headers(client)
    for case, token in _bad_tokens(private_key, user["id"]).items():
        response = await client.get("/profile/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, case
        assert response.json()["detail"] in {"Invalid token", "Token expired"}, case
    assert (await client.get("/profile/me")).status_code == 401
    assert (await client.get("/profile/me", headers={"Authorization": "Basic abc"})).status_code == 401


@pytest.mark.parametrize("previous", [True])
async def test_tokens_of_the_previous_key_verify_during_rotation(
    make_settings: Any, private_key: str, previous: bool
) -> None:
    from app.core.state import State
    from app.factory import create_app
    from chat_shared.testing.fixtures import asgi_client, started_app

    new_key = generate_private_pem()
    settings = make_settings(
        jwt_private_key=new_key,
        jwt_key_id="key-2",
        jwt_previous_public_key=public_pem(private_key),
        jwt_previous_key_id="test-key",
    )
    async for app in started_app(create_app(settings), State):
        async with asgi_client(app) as client:
            user = await register(client)
            old_token = sign_access_token(
                private_key,
                "test-key",
                "RS256",
                user_id=user["id"],
                username="u",
                issuer="bigtech-chat",
                audience="bigtech-chat-api",
                ttl_s=900,
                now=datetime.now(UTC),
                sid=None,
            )
            assert (
                await client.get("/profile/me", headers={"Authorization": f"Bearer {old_token}"})
            ).status_code == 200
            new_token = (await login(client, user["email"]))["access_token"]
            assert jwt.get_unverified_header(new_token)["kid"] == "key-2"
            kids = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
            assert kids == {"key-2", "test-key"}
