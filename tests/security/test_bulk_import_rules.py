"""`$import` keeps the API's write rules: scopes per resource type, AuditEvent only written by the server."""
from __future__ import annotations

import json


def _import(app_client, headers, *records) -> list[str]:
    body = "\n".join(json.dumps(record) for record in records) + "\n"
    response = app_client.post("/fhir/$import", content=body,
                               headers={**{k: v for k, v in headers.items() if k.lower() != "content-type"},
                                        "Content-Type": "application/fhir+ndjson"})
    assert response.status_code == 200, response.text
    return [issue["diagnostics"] for issue in response.json()["issue"]]


def test_audit_events_cannot_be_written_or_overwritten_through_import(app_client, as_client):
    a = as_client("hospital-a", "system/*.cruds tessera/audit.read")
    app_client.get("/fhir/Patient", headers=a)  # the server audits this search
    audit = app_client.get("/fhir/AuditEvent", headers=a).json()["entry"][0]["resource"]
    forged = {**audit, "agent": [{"who": {"display": "tampered"}, "requestor": True}]}
    collection = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": forged}]}
    issues = _import(app_client, a, forged, collection, {"resourceType": "Patient", "id": "imp-ok"})
    assert issues[0] == "1 resources stored, 2 records rejected", issues
    assert all("append-only" in text for text in issues[1:]), issues
    again = app_client.get(f"/fhir/AuditEvent/{audit['id']}", headers=a).json()
    assert again["meta"]["versionId"] == audit["meta"]["versionId"]


def test_import_checks_the_scope_of_each_record(app_client, as_client):
    patients_only = as_client("hospital-a", "system/Patient.cu")
    issues = _import(app_client, patients_only, {"resourceType": "Patient", "id": "imp-p"},
                     {"resourceType": "Observation", "status": "final", "code": {"text": "x"}})
    assert issues[0] == "1 resources stored, 1 records rejected", issues
    assert "Observation" in issues[1]
