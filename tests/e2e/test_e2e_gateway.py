"""Accounts through the gateway, and what the gateway itself does (request ids, CORS, 404, 413)."""

from __future__ import annotations

import re

from e2e_helpers import PASSWORD, Api


async def test_register_login_and_profile(api: Api) -> None:
    user = await api.new_user("prof")
    r = await api.client.get("/api/profile/me", headers=user.auth)
    assert r.status_code == 200, r.text
    assert r.json()["username"] == user.username
    assert r.json()["email"] == user.email

    r = await api.client.patch("/api/profile/me", headers=user.auth, json={"display_name": "Profile Person"})
    assert r.status_code == 200, r.text
    r = await api.client.get(f"/api/users/{user.id}", headers=user.auth)
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "Profile Person"
    assert "email" not in r.json() or r.json()["email"] is None


async def test_form_login_and_wrong_password(api: Api) -> None:
    user = await api.new_user("form")
    r = await api.client.post("/api/auth/login", data={"username": user.username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "bearer"
    r = await api.client.post("/api/auth/login/json", json={"email": user.email, "password": "not the password"})
    assert r.status_code == 401
    assert "detail" in r.json()


async def test_no_token_is_401(api: Api) -> None:
    r = await api.client.get("/api/profile/me")
    assert r.status_code == 401


async def test_request_id_is_kept_and_echoed(api: Api) -> None:
    r = await api.client.get("/api/profile/me", headers={"X-Request-ID": "e2e-req-0001"})
    assert r.headers["x-request-id"] == "e2e-req-0001"


async def test_request_id_is_generated_when_missing(api: Api) -> None:
    r = await api.client.get("/api/profile/me")
    assert re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", r.headers.get("x-request-id", "")), r.headers


async def test_unknown_path_is_404(api: Api) -> None:
    r = await api.client.get("/api/no-such-thing")
    assert r.status_code == 404
    assert "detail" in r.json()


async def test_operations_endpoints_are_not_routed(api: Api) -> None:
    for path in (
        "/api/health",
        "/api/ready",
        "/api/metrics",
        "/api/docs",
        "/api/openapi.json",
        "/.well-known/jwks.json",
        "/api/.well-known/jwks.json",
        "/api/auth/../health",
    ):
        r = await api.client.get(path)
        assert r.status_code == 404, f"{path} answered {r.status_code}"


async def test_cors_preflight_is_answered(api: Api) -> None:
    r = await api.client.options(
        "/api/auth/login/json",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization",
        },
    )
    assert r.status_code in (200, 204), r.text
    assert r.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "authorization" in r.headers["access-control-allow-headers"].lower()


async def test_cors_headers_on_a_response(api: Api) -> None:
    r = await api.client.get("/api/profile/me", headers={"Origin": "http://localhost:5173"})
    assert r.headers.get("access-control-allow-origin") == "http://localhost:5173"
    assert "x-request-id" in r.headers.get("access-control-expose-headers", "").lower()


async def test_unknown_origin_gets_no_cors_grant(api: Api) -> None:
    r = await api.client.options(
        "/api/auth/login/json", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in r.headers


async def test_body_over_one_megabyte_is_413(api: Api) -> None:
    r = await api.client.post(
        "/api/auth/register",
        content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
