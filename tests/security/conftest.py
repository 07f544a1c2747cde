"""Clients for several institutions and scopes against one fresh store per backend."""
from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import pytest

from adapters.bootstrap import Container
from adapters.http.app import create_app
from tests.integration.conftest import FHIR_JSON, token_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def app_client(container: Container) -> Iterator[TestClient]:
    """A client with no credentials."""
    with TestClient(create_app(container)) as client:
        yield client


@pytest.fixture
def as_client(container: Container, app_client: TestClient) -> Callable[..., dict[str, str]]:
    """Headers for a token of an institution with given scopes (and optional patient context)."""

    def headers(institution: str = "hospital-a", scope: str = "system/*.cruds", patient: str | None = None,
                **extra: str) -> dict[str, str]:
        token = token_for(container, institution=institution, scope=scope, patient=patient,
                          client=f"{institution}-client")
        return {"Authorization": f"Bearer {token}", **FHIR_JSON, **extra}

    return headers
