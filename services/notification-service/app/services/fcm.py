"""Firebase Cloud Messaging, HTTP v1 API, for ``type: "fcm"`` subscriptions (native apps).

Authentication is the OAuth 2.0 service-account flow Google documents: a JWT signed with the account's key
(RS256) is exchanged at its ``token_uri`` for an access token, which is cached until shortly before it
expires. The payload travels as ``data`` (``notification``: the JSON of the push payload), so the app draws
the notification itself and can hide the preview as the user chose.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from jose import jwt

from app.models.subscription import Subscription
from app.services.push_result import Outcome, PushResult, classify

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
#: FCM's error codes meaning the token is dead (``details[].errorCode`` of the v1 error body).
DEAD_TOKEN_CODES = frozenset({"UNREGISTERED", "INVALID_ARGUMENT"})


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """The fields of a service-account JSON file FCM needs."""

    project_id: str
    client_email: str
    private_key: str
    token_uri: str

    @classmethod
    def from_file(cls, path: str) -> ServiceAccount:
        data = json.loads(Path(path).read_text())
        return cls(data["project_id"], data["client_email"], data["private_key"], data["token_uri"])


class Fcm:
    """Sends data messages through FCM's HTTP v1 API."""

    def __init__(
        self,
        account: ServiceAccount | None,
        base_url: str,
        client: httpx.AsyncClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account = account
        self.base_url = base_url.rstrip("/")
        self.client = client
        self.clock = clock
        self._token: tuple[float, str] | None = None
        self._lock = asyncio.Lock()

    async def access_token(self, renew: bool = False) -> str:
        """An OAuth access token for FCM, fetched once and shared until a minute before it expires."""
        assert self.account is not None
        async with self._lock:
            now = self.clock()
            if not renew and self._token is not None and self._token[0] - 60 > now:
                return self._token[1]
            assertion = jwt.encode(
                {
                    "iss": self.account.client_email,
                    "scope": SCOPE,
                    "aud": self.account.token_uri,
                    "iat": int(now),
                    "exp": int(now) + 3600,
                },
                self.account.private_key,
                algorithm="RS256",
            )
            response = await self.client.post(
                self.account.token_uri,
                data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
            )
            response.raise_for_status()
            body = response.json()
            self._token = (now + float(body.get("expires_in", 3600)), str(body["access_token"]))
            return self._token[1]

    def message(self, token: str, payload: dict[str, Any], collapse_key: str) -> dict[str, Any]:
        """The v1 ``message`` of one push."""
        return {
            "message": {
                "token": token,
                "data": {"notification": json.dumps(payload, separators=(",", ":"), ensure_ascii=False)},
                "android": {"priority": "high", "collapse_key": collapse_key},
                "apns": {"headers": {"apns-priority": "10", "apns-collapse-id": collapse_key}},
            }
        }

    async def send(self, subscription: Subscription, payload: dict[str, Any], collapse_key: str) -> PushResult:
        """Send one message; a dead token is ``gone``, 429/5xx and transport errors ``retry``."""
        if self.account is None:
            return PushResult(Outcome.FAILED)
        assert subscription.token is not None
        url = f"{self.base_url}/v1/projects/{self.account.project_id}/messages:send"
        body = self.message(subscription.token, payload, collapse_key)
        try:
            for attempt in range(2):
                token = await self.access_token(renew=attempt > 0)
                response = await self.client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
                if response.status_code != 401:
                    break
        except httpx.HTTPError:
            return PushResult(Outcome.RETRY)
        if response.status_code == 400 and _error_code(response) not in DEAD_TOKEN_CODES:
            return PushResult(Outcome.FAILED, status=400)
        return classify(response, self.clock(), gone=(400, 404))


def _error_code(response: httpx.Response) -> str | None:
    try:
        details = response.json()["error"].get("details", [])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    for detail in details:
        if isinstance(detail, dict) and detail.get("errorCode"):
            return str(detail["errorCode"])
    return None
