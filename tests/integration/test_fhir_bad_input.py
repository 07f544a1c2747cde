"""Bad input gets the right 4xx and an OperationOutcome naming the element; nothing half-stored."""
from __future__ import annotations

import pytest

from tests.integration.conftest import FHIR_JSON


def _issue(response) -> dict:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


def test_malformed_json_is_a_400(api):
    response = api.post("/fhir/Patient", content=b'{"resourceType": "Patient",', headers=FHIR_JSON)
    assert response.status_code == 400
    assert "Malformed JSON" in _issue(response)["diagnostics"]


def test_unknown_resource_type_is_named(api):
    response = api.post("/fhir/Spaceship", json={"resourceType": "Spaceship"}, headers=FHIR_JSON)
    assert response.status_code == 400
    assert _issue(response)["expression"] == ["resourceType"]


@pytest.mark.parametrize("resource, path", [
    ({"resourceType": "Patient", "birthDate": "1980-13-45"}, "Patient.birthDate"),
    ({"resourceType": "Patient", "name": [{"given": "not-a-list"}]}, "Patient.name[0].given"),
    ({"resourceType": "Patient", "favouriteColour": "blue"}, "Patient.favouriteColour"),
    ({"resourceType": "Observation", "status": "final"}, "Observation.code"),
])
def test_invalid_resources_are_422_with_the_failing_path(api, resource, path):
    response = api.post(f"/fhir/{resource['resourceType']}", json=resource, headers=FHIR_JSON)
    assert response.status_code == 422
    assert _issue(response)["expression"] == [path]


def test_body_type_must_match_the_url(api):
    response = api.post("/fhir/Observation", json={"resourceType": "Patient"}, headers=FHIR_JSON)
    assert response.status_code == 400


def test_wrong_content_type_is_415(api):
    response = api.post("/fhir/Patient", content=b"<Patient/>", headers={"content-type": "application/fhir+xml"})
    assert response.status_code == 415


def test_oversized_request_is_413(container, api):
    container.settings.max_request_bytes = 1000
    response = api.post("/fhir/Patient", json={"resourceType": "Patient", "text": {"status": "generated",
                        "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">" + "x" * 2000 + "</div>"}},
                        headers=FHIR_JSON)
    assert response.status_code == 413


def test_too_deeply_nested_json_is_400(api):
    deep: dict = {"resourceType": "Basic", "code": {"text": "x"}}
    node = deep
    for _ in range(100):
        node["extension"] = [{"url": "http://x"}]
        node = node["extension"][0]
    response = api.post("/fhir/Basic", json=deep, headers=FHIR_JSON)
    assert response.status_code == 400
    assert "nesting" in _issue(response)["diagnostics"]


def test_reference_to_a_missing_resource_is_rejected(api):
    response = api.post("/fhir/Observation", json={"resourceType": "Observation", "status": "final",
                                                   "code": {"text": "x"}, "subject": {"reference": "Patient/ghost"}},
                        headers=FHIR_JSON)
    assert response.status_code == 422
    assert _issue(response)["expression"] == ["Observation.subject"]


def test_unknown_route_and_method_answer_operation_outcomes(api):
    assert _issue(api.get("/fhir/Patient/x/y/z"))["code"] == "not-found"
    assert api.patch("/fhir/Patient/x", json={}).status_code == 405


def test_bad_search_values_name_the_parameter(api):
    response = api.get("/fhir/Patient", params={"birthdate": "yesterday"})
    assert response.status_code == 400
    assert "birthdate" in _issue(response)["diagnostics"]
    assert api.get("/fhir/Patient", params={"_count": "-1"}).status_code == 400
