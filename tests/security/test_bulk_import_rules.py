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


def test_a_token_that_may_write_nothing_is_refused_before_the_upload_is_read(app_client, as_client):
    reader = as_client("hospital-a", "system/*.rs")
    body = json.dumps({"resourceType": "Patient", "id": "imp-never"}) + "\n"
    response = app_client.post("/fhir/$import", content=body,
                               headers={**reader, "Content-Type": "application/fhir+ndjson"})
    assert response.status_code == 403, response.text
    assert "create or update scope" in response.json()["issue"][0]["diagnostics"]
    assert app_client.get("/fhir/Patient/imp-never", headers=as_client("hospital-a")).status_code == 404


def test_an_import_with_rejected_records_is_audited_as_a_failure(app_client, as_client):
    auditor = as_client("hospital-a", "system/*.rs tessera/audit.read")
    _import(app_client, as_client("hospital-a", "system/Patient.cu"), {"resourceType": "Patient", "id": "imp-half"},
            {"resourceType": "Observation", "status": "final", "code": {"text": "x"}})
    _import(app_client, as_client("hospital-a", "system/Patient.cu"), {"resourceType": "Observation"})
    _import(app_client, as_client("hospital-a", "system/Patient.cu"), {"resourceType": "Patient", "id": "imp-all"})
    events = app_client.get("/fhir/AuditEvent", params={"_count": "100", "_sort": "_lastUpdated"},
                            headers=auditor).json()
    imports = [e["resource"]["outcome"] for e in events["entry"]
               if any("$import" in x.get("description", "") for x in e["resource"].get("entity", []))]
    assert imports == ["4", "8", "0"]
