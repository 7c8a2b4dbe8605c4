"""Signing keys: the current private key (with ``kid``) and an optional previous public key.

Rotation: deploy the new key as current and the old public key as previous; tokens signed by either
verify until the old ones expire (15 min), then drop the previous key. In development a key pair is
generated once into a git-ignored file; a private key is never committed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.core.config import Settings
from chat_shared.auth import public_pem_to_jwk, signing_key


@dataclass(frozen=True)
class KeyRing:
    """The key that signs now, and every public key that verifies."""

    private_pem: str
    kid: str
    algorithm: str
    public_jwks: dict[str, dict[str, Any]]
    #: The private key parsed once (parsing validates the RSA key: ~50 ms of CPU).
    signing_key: Any

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The JWKS document served at ``/.well-known/jwks.json``."""
        return {"keys": list(self.public_jwks.values())}


def generate_private_pem() -> str:
    """A new 2048-bit RSA private key in PKCS#8 PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(private_pem: str) -> str:
    """The public half of a private key, in PEM."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def thumbprint_kid(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint of an RSA JWK: a stable ``kid`` when none is configured."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()[:16]


def _dev_key(path: Path) -> str:
    if path.exists():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = generate_private_pem()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(pem)
    return pem


def load_keyring(settings: Settings) -> KeyRing:
    """Build the key ring from settings (generating a dev key when allowed and none is set)."""
    private = settings.jwt_private_key
    if not private:
        if not settings.is_dev:  # settings validation already refuses this; keep the invariant local too
            raise RuntimeError("JWT_PRIVATE_KEY is required outside development")
        private = _dev_key(Path(settings.dev_key_file))
    algorithm = settings.jwt_algorithm
    current = public_pem_to_jwk(public_pem(private), "pending", algorithm)
    kid = settings.jwt_key_id or thumbprint_kid(current)
    current["kid"] = kid
    jwks = {kid: current}
    if settings.jwt_previous_public_key:
        prev_kid = settings.jwt_previous_key_id or "previous"
        jwks[prev_kid] = public_pem_to_jwk(settings.jwt_previous_public_key, prev_kid, algorithm)
    return KeyRing(
        private_pem=private, kid=kid, algorithm=algorithm, public_jwks=jwks, signing_key=signing_key(private, algorithm)
    )
