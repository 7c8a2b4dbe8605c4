"""Access tokens for the tests of services that only verify them (friend, chat)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chat_shared.auth import sign_access_token, signing_key


def _new_private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@dataclass
class TestKeys:
    """A key pair standing in for user-service's; configure ``public_pem``/``kid`` on the service."""

    __test__ = False  # not a test class, whatever its name

    kid: str = "test-key"
    private_pem: str = field(default_factory=_new_private_pem)
    issuer: str = "bigtech-chat"
    audience: str = "bigtech-chat-api"
    _signing_key: Any = field(default=None, repr=False)

    @property
    def public_pem(self) -> str:
        """The public half, for ``JWT_PUBLIC_KEY``."""
        key = serialization.load_pem_private_key(self.private_pem.encode(), password=None)
        return (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def token(
        self, user_id: int, username: str = "", ttl_s: int = 900, sid: str | None = None, now: datetime | None = None
    ) -> str:
        """A valid access token for ``user_id``, of session ``sid`` when given, issued at ``now``."""
        if self._signing_key is None:
            self._signing_key = signing_key(self.private_pem, "RS256")
        return sign_access_token(
            self._signing_key,
            self.kid,
            "RS256",
            user_id=user_id,
            username=username or f"user{user_id}",
            issuer=self.issuer,
            audience=self.audience,
            ttl_s=ttl_s,
            now=now or datetime.now(UTC),
            sid=sid,
        )

    def headers(self, user_id: int, username: str = "", sid: str | None = None) -> dict[str, str]:
        """Bearer headers for ``user_id`` (of session ``sid`` when given)."""
        return {"Authorization": f"Bearer {self.token(user_id, username, sid=sid)}"}
