"""A local server speaking FCM's HTTP v1 API: the OAuth token exchange of a service account (a JWT bearer
assertion signed with the account's RSA key) and ``messages:send``. Tokens starting ``dead`` answer 404
``UNREGISTERED``, as FCM does for an uninstalled app."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import LocalServer

PROJECT = "bigtech-test"
CLIENT_EMAIL = "notifier@bigtech-test.iam.gserviceaccount.com"


class FcmServer(LocalServer):
    def __init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/token", self.token, methods=["POST"]),
                Route("/v1/projects/{project}/messages:send", self.send, methods=["POST"]),
            ]
        )
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.access_tokens: set[str] = set()
        self.messages: list[dict[str, Any]] = []

    def write_credentials(self, directory: Path) -> Path:
        """A service-account JSON whose ``token_uri`` is this server."""
        pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        path = directory / "fcm-service-account.json"
        body = {
            "type": "service_account",
            "project_id": PROJECT,
            "client_email": CLIENT_EMAIL,
            "private_key": pem,
            "token_uri": f"{self.url}/token",
        }
        path.write_text(json.dumps(body))
        return path

    async def token(self, request: Request) -> Response:
        form = await request.form()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        public = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        try:
            claims = jwt.decode(
                str(form.get("assertion")), public.decode(), algorithms=["RS256"], audience=f"{self.url}/token"
            )
        except Exception:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if claims.get("iss") != CLIENT_EMAIL or "firebase.messaging" not in claims.get("scope", ""):
            return JSONResponse({"error": "invalid_scope"}, status_code=400)
        access = secrets.token_urlsafe(16)
        self.access_tokens.add(access)
        return JSONResponse({"access_token": access, "expires_in": 3599, "token_type": "Bearer"})

    async def send(self, request: Request) -> Response:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self.access_tokens or request.path_params["project"] != PROJECT:
            return JSONResponse({"error": {"code": 401, "status": "UNAUTHENTICATED"}}, status_code=401)
        message = (await request.json())["message"]
        if message["token"].startswith("dead"):
            return JSONResponse(
                {
                    "error": {
                        "code": 404,
                        "status": "NOT_FOUND",
                        "details": [
                            {
                                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                "errorCode": "UNREGISTERED",
                            }
                        ],
                    }
                },
                status_code=404,
            )
        self.messages.append(message)
        return JSONResponse({"name": f"projects/{PROJECT}/messages/{len(self.messages)}"})
