"""An in-process HTTP client for the FHIR API over a fresh store on each backend."""
from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from adapters.bootstrap import Container
from adapters.http.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FHIR_JSON = {"content-type": "application/fhir+json"}


@pytest.fixture
def api(container: Container) -> Iterator[TestClient]:
    """A client for /fhir; `api.fhir_post` etc. send FHIR JSON."""
    with TestClient(create_app(container)) as client:
        yield client
