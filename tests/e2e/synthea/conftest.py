"""One Synthea load per backend for the whole package: a real server, every bundle posted once."""
from __future__ import annotations

import collections
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.e2e import corpus as c
from tests.e2e.conftest import BACKENDS, FHIR_JSON, ServerURL, fresh_server, matches, search


@pytest.fixture(scope="package", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerURL]:
    """A real `tessera serve` over a fresh store on each backend, shared by this package's modules."""
    yield from fresh_server(request, tmp_path_factory, "e2e-synthea")


@pytest.fixture(scope="package")
def fhir(server: ServerURL) -> Iterator[httpx.Client]:
    """An HTTP client whose relative URLs are under the server's /fhir endpoint."""
    with httpx.Client(base_url=server.rstrip("/") + "/", headers=server.headers, timeout=120) as client:
        yield client


SAMPLE_PATIENTS = ["Ellis535_Will178", "Jeanmarie510_Heidenreich818", "Fidel_Bins", "Milan_Beatty",
                   "Gustavo_Mejia"]
CLINICAL_TYPES = ["Observation", "Condition", "Encounter", "Immunization", "MedicationRequest",
                  "DiagnosticReport", "Procedure", "AllergyIntolerance"]


@dataclass
class Loaded:
    """What the load answered, and the server ids of the Synthea patients."""

    server: ServerURL
    answers: list[tuple[c.BundleFile, int, Any]] = field(default_factory=list)
    patient_ids: dict[str, str] = field(default_factory=dict)

    def patient_id(self, patient: c.Entry) -> str:
        key = c.patient_key(patient)
        assert key in self.patient_ids, f"{patient.file}: the server does not find Patient identifier {key}"
        return self.patient_ids[key]


@pytest.fixture(scope="package")
def synthea(server: ServerURL, fhir: httpx.Client) -> Loaded:
    """Load every Synthea bundle once per backend; find each patient's server id by its Synthea identifier."""
    loaded = Loaded(server)
    for bundle in c.load_order():
        response = fhir.post(str(server), content=bundle.path.read_bytes(), headers=FHIR_JSON)
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        loaded.answers.append((bundle, response.status_code, body))
    for patient in c.patients():
        key = c.patient_key(patient)
        found = matches(search(fhir, "Patient", {"identifier": f"{c.SYNTHEA_SYSTEM}|{key}"}))
        if len(found) == 1:
            loaded.patient_ids[key] = found[0]["id"]
    return loaded


def sample_patient(prefix: str) -> c.Entry:
    found = [p for p in c.patients() if p.file.startswith(prefix)]
    assert len(found) == 1, prefix
    return found[0]


def total(client: httpx.Client, resource_type: str, params: Any) -> int:
    bundle = search(client, resource_type, params)
    assert "total" in bundle, f"{resource_type} {params}: no total in {bundle}"
    return bundle["total"]


def synthea_keys(resources: list[dict[str, Any]]) -> collections.Counter:
    return collections.Counter(c.identifier_value(r, c.SYNTHEA_SYSTEM) for r in resources)
