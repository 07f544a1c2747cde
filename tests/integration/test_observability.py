"""/healthz and /metrics answer, and metrics count requests by route template and report store sizes."""
from __future__ import annotations

from tests.integration.conftest import FHIR_JSON


def test_healthz_answers_ok_when_the_store_answers(api):
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_metrics_count_requests_by_route_template_and_report_store_sizes(api):
    pid = api.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Metric"}]},
                   headers=FHIR_JSON).json()["id"]
    api.get(f"/fhir/Patient/{pid}")
    text = api.get("/metrics").text
    assert 'tessera_http_requests_total{method="GET",route="/fhir/{resource_type}/{resource_id}",status="200"} 1.0' in text
    assert 'tessera_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/fhir/{resource_type}"}' in text
    assert 'tessera_store_resources{resource_type="Patient"} 2.0' in text  # the Patient and its golden record
    assert pid not in text and "Metric" not in text


def test_metadata_is_a_capability_statement_for_r4(api):
    statement = api.get("/fhir/metadata").json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    names = {p["name"] for p in patient["searchParam"]}
    assert {"family", "birthdate", "identifier", "gender", "_id", "_lastUpdated"} <= names
    assert "phonetic" in names and "_text" not in names
