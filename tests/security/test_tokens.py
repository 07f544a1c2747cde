"""Forged, tampered, expired and malformed tokens get 401 with WWW-Authenticate and nothing more."""
from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from adapters.auth.keys import SigningKey
from adapters.auth.tokens import issue_token
from tests.integration.conftest import token_for


def _claims(container, **overrides) -> dict:
    now = int(time.time())
    claims = {"iss": container.settings.auth_issuer, "aud": container.settings.auth_audience, "sub": "c",
              "iat": now, "nbf": now, "exp": now + 600, "scope": "system/*.cruds", "tessera_institution": "hospital-a"}
    claims.update(overrides)
    return claims


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _forgeries(container) -> dict[str, str]:
    key = container.signing_key
    stranger = SigningKey(ec.generate_private_key(ec.SECP256R1()), key.kid, development=True)
    good = token_for(container)
    header, payload, signature = good.split(".")
    tampered_payload = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered_payload["tessera_institution"] = "hospital-b"
    sign = lambda claims, alg="ES256", k=key.private_key: jwt.encode(claims, k, algorithm=alg,  # noqa: E731
                                                                     headers={"kid": key.kid})
    return {
        "signed by another key": issue_token(stranger, issuer=container.settings.auth_issuer,
                                             audience=container.settings.auth_audience, client_id="c",
                                             institution="hospital-a", scope="system/*.cruds"),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': key.kid})}.{payload}.",
        "institution claim changed": f"{header}.{_b64(tampered_payload)}.{signature}",
        "expired": sign(_claims(container, iat=int(time.time()) - 7200, nbf=int(time.time()) - 7200,
                                exp=int(time.time()) - 3600)),
        "not yet valid": sign(_claims(container, nbf=int(time.time()) + 3600)),
        "wrong audience": sign(_claims(container, aud="urn:someone-else")),
        "wrong issuer": sign(_claims(container, iss="urn:evil")),
        "no institution": sign({k: v for k, v in _claims(container).items() if k != "tessera_institution"}),
        "HS256 with a guessable secret": jwt.encode(_claims(container), "secret", algorithm="HS256",
                                                   headers={"kid": key.kid}),
        "garbage": "not.a.jwt",
        "empty": "",
    }


def test_forged_and_tampered_tokens_are_refused(container, app_client):
    for name, token in _forgeries(container).items():
        response = app_client.get("/fhir/Patient", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"].startswith("Bearer"), name
        assert response.json()["issue"][0]["diagnostics"] == "Authentication required", name


@pytest.mark.parametrize("header", [None, "Basic dXNlcjpwdw==", "Bearer", "bearer  "])
def test_missing_or_malformed_authorization_is_401(app_client, header):
    headers = {"Authorization": header} if header is not None else {}
    response = app_client.get("/fhir/Observation", headers=headers)
    assert response.status_code == 401
    assert "www-authenticate" in response.headers


def test_a_valid_token_is_accepted(container, app_client):
    response = app_client.get("/fhir/Patient", headers={"Authorization": f"Bearer {token_for(container)}"})
    assert response.status_code == 200


def test_public_endpoints_need_no_token(app_client):
    for path in ("/healthz", "/fhir/metadata", "/openapi.json"):
        assert app_client.get(path).status_code == 200, path


@pytest.mark.parametrize("method, path", [("get", "/fhir/Patient/x"), ("post", "/fhir/Patient"),
                                          ("get", "/fhir/_history"), ("post", "/fhir"),
                                          ("delete", "/fhir/Patient/x"), ("put", "/fhir/Patient/x"),
                                          ("get", "/fhir/Patient/x/_history"), ("post", "/fhir/$import")])
def test_no_patient_data_endpoint_answers_without_a_token(app_client, method, path):
    response = getattr(app_client, method)(path)
    assert response.status_code == 401, (method, path)
