"""Fuzz the HTTP API from its own OpenAPI document with a valid token: no 5xx, no other institution's data."""
from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from engine.security.caller import Caller
from engine.settings import Settings
from adapters.auth.tokens import issue_token
from adapters.bootstrap import build_container
from adapters.http.app import create_app

_folder = Path(tempfile.mkdtemp(prefix="tessera-fuzz-"))
_container = build_container(Settings(data_dir=_folder, database_url=f"sqlite:///{_folder / 'fuzz.db'}",
                                      rate_limit_per_minute=1_000_000))
_container.resources.create({"resourceType": "Patient", "id": "secret", "name": [{"family": "OtherInstitution"}]},
                            caller=Caller.institution_only("hospital-z"))
_secret = _container.resources.create(
    {"resourceType": "Consent", "status": "active",
     "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
     "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
     "patient": {"reference": "Patient/" + _container.search.search(
         "Patient", [("family", "OtherInstitution")], base_url="http://x")["entry"][0]["resource"]["id"]},
     "provision": {"type": "deny"}}, caller=Caller.institution_only("hospital-z"))
_token = issue_token(_container.signing_key, issuer=_container.settings.auth_issuer,
                     audience=_container.settings.auth_audience, client_id="fuzzer", institution="hospital-f",
                     scope="system/*.cruds tessera/audit.read", ttl_s=24 * 3600)  # the suite may run long before it
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_container))


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_from_the_openapi_document_causes_a_server_error_or_a_leak(case):
    response = case.call(headers={"Authorization": f"Bearer {_token}"})
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    assert response.status_code != 401, "the token must be accepted, or nothing behind authentication is fuzzed"
    assert "OtherInstitution" not in response.text, (case.method, case.path)
