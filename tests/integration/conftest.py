"""An in-process HTTP client for the FHIR API over a fresh store on each backend."""
from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from adapters.bootstrap import Container
from adapters.auth.tokens import issue_token
from adapters.http.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FHIR_JSON = {"content-type": "application/fhir+json"}


SYSTEM_SCOPE = "system/*.cruds tessera/audit.read tessera/identity.admin tessera/allocation.cruds"


def token_for(container: Container, *, institution: str = "general-hospital", scope: str = SYSTEM_SCOPE,
              patient: str | None = None, client: str = "test-client", ttl_s: int = 900) -> str:
    """A valid bearer token from the container's local issuer."""
    settings = container.settings
    return issue_token(container.signing_key, issuer=settings.auth_issuer, audience=settings.auth_audience,
                       client_id=client, institution=institution, scope=scope, patient=patient, ttl_s=ttl_s)


@pytest.fixture
def api(container: Container) -> Iterator[TestClient]:
    """A client for the HTTP API carrying a system token of institution `general-hospital`."""
    with TestClient(create_app(container)) as client:
        client.headers["Authorization"] = f"Bearer {token_for(container)}"
        yield client
