"""Issue and validate access tokens. Validation is strict: ES256/RS256 only, exp/nbf/aud/iss checked."""
from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from engine.errors import Unauthenticated
from engine.security.principal import Principal
from adapters.auth.keys import SigningKey

ALLOWED_ALGORITHMS = ("ES256", "RS256")
INSTITUTION_CLAIM = "tessera_institution"
LEEWAY_S = 30


def issue_token(key: SigningKey, *, issuer: str, audience: str, client_id: str, institution: str, scope: str,
                patient: str | None = None, user: str | None = None, ttl_s: int = 900) -> str:
    """A signed ES256 access token."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": issuer, "aud": audience, "sub": client_id, "client_id": client_id,
                              "iat": now, "nbf": now, "exp": now + ttl_s, "jti": uuid.uuid4().hex,
                              "scope": scope, INSTITUTION_CLAIM: institution}
    if patient:
        claims["patient"] = patient
    if user:
        claims["fhirUser"] = user
    return jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})


class TokenValidator:
    """Validates bearer tokens against the local issuer key and trusted JWKS keys."""

    def __init__(self, *, issuer: str, audience: str, local_key: SigningKey | None, external_keys: dict[str, Any]):
        self.issuer = issuer
        self.audience = audience
        self.keys: dict[str, Any] = dict(external_keys)
        if local_key is not None:
            self.keys[local_key.kid] = local_key.private_key.public_key()

    def principal(self, token: str) -> Principal:
        """The caller a token stands for; raises Unauthenticated (with no detail) when it is not valid."""
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg")
            key = self.keys.get(header.get("kid", ""))
            if algorithm not in ALLOWED_ALGORITHMS or key is None:
                raise jwt.InvalidTokenError("unacceptable header")
            claims = jwt.decode(token, key, algorithms=[algorithm], audience=self.audience, issuer=self.issuer,
                                leeway=LEEWAY_S, options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub"]})
            institution = claims.get(INSTITUTION_CLAIM)
            if not isinstance(institution, str) or not institution:
                raise jwt.InvalidTokenError("no institution")
            scope = claims.get("scope", "")
            if not isinstance(scope, str):
                raise jwt.InvalidTokenError("bad scope")
        except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
            raise Unauthenticated("invalid_token") from exc
        patient = claims.get("patient")
        user = claims.get("fhirUser")
        return Principal.from_claims(client_id=str(claims.get("client_id") or claims["sub"]), institution=institution,
                                     scope=scope, user=user if isinstance(user, str) else None,
                                     patient=patient if isinstance(patient, str) else None)
