"""Signing and verification keys: the local issuer's EC key and trusted issuers' JWKS."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt import PyJWK

DEV_KEY_NAME = "development-signing-key.pem"


class KeyConfigurationError(RuntimeError):
    """Keys are missing or unsafe for the configured environment."""


@dataclass
class SigningKey:
    """The local issuer's private key, its key id and whether it is a generated development key."""

    private_key: Any
    kid: str
    development: bool

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK (for a JWKS document)."""
        from jwt.algorithms import ECAlgorithm

        jwk = json.loads(ECAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "ES256"}


def _kid(private_key: Any) -> str:
    import hashlib

    public = private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(public).hexdigest()[:16]


def load_signing_key(key_file: Path | None, data_dir: Path, *, environment: str) -> SigningKey:
    """The configured key; in development a key generated once under data_dir/keys (refused in production)."""
    if key_file is not None:
        pem = key_file.read_bytes()
        private_key = serialization.load_pem_private_key(pem, password=None)
        development = key_file.name == DEV_KEY_NAME
    else:
        if environment == "production":
            raise KeyConfigurationError("production mode needs TESSERA_AUTH_SIGNING_KEY_FILE (no development key)")
        path = data_dir / "keys" / DEV_KEY_NAME
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            generated = ec.generate_private_key(ec.SECP256R1())
            pem = generated.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(pem)
        private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        development = True
    if environment == "production" and development:
        raise KeyConfigurationError("refusing to run in production with a development signing key")
    return SigningKey(private_key, _kid(private_key), development)


def load_jwks(jwks_file: Path | None, jwks_url: str | None) -> dict[str, Any]:
    """Verification keys of an external issuer by key id, from a JWKS file or (configured) URL."""
    document: dict[str, Any] = {"keys": []}
    if jwks_file is not None:
        document = json.loads(jwks_file.read_text("utf-8"))
    elif jwks_url:
        response = httpx.get(jwks_url, timeout=10, follow_redirects=False)
        response.raise_for_status()
        document = response.json()
    keys = {}
    for item in document.get("keys", []):
        if item.get("kid") and item.get("kty") in ("EC", "RSA"):
            keys[item["kid"]] = PyJWK.from_dict(item).key
    return keys
