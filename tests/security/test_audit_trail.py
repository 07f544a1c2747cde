"""Every access writes exactly one AuditEvent with references, never payloads; the trail is append-only."""
from __future__ import annotations

import base64


def test_each_access_has_exactly_one_audit_event(container, app_client, as_client):
    writer = as_client("hospital-a")
    auditor = as_client("hospital-a", "system/*.rs tessera/audit.read")
    pid = app_client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Audited"}]},
                          headers=writer).json()["id"]
    app_client.get(f"/fhir/Patient/{pid}", headers=writer)
    app_client.get("/fhir/Patient", params={"family": "Audited"}, headers=writer)
    app_client.put(f"/fhir/Patient/{pid}", json={"resourceType": "Patient", "id": pid}, headers=writer)
    app_client.get(f"/fhir/Patient/{pid}/_history/1", headers=writer)
    app_client.get("/fhir/Observation", headers=as_client("hospital-a", "user/Patient.rs"))  # refused: 403
    app_client.get("/fhir/Patient", headers={"Authorization": "Bearer forged"})  # refused: 401
    app_client.delete(f"/fhir/Patient/{pid}", headers=writer)
    events = app_client.get("/fhir/AuditEvent", params={"_count": "100", "_sort": "_lastUpdated"},
                            headers=auditor).json()
    trail = [(e["resource"]["subtype"][0]["code"], e["resource"]["outcome"],
              [x.get("what", {}).get("reference") for x in e["resource"].get("entity", [])])
             for e in events["entry"]]
    assert trail == [
        ("create", "0", [f"Patient/{pid}"]),
        ("read", "0", [f"Patient/{pid}"]),
        ("search-type", "0", [None]),
        ("update", "0", [f"Patient/{pid}"]),
        ("vread", "0", [f"Patient/{pid}"]),
        ("search-type", "4", [None]),
        ("delete", "0", [f"Patient/{pid}"]),
    ]
    # the unauthenticated attempt belongs to no institution: only the deployment's own view shows it
    everything = container.search.search("AuditEvent", [("_count", "100"), ("outcome", "4")], base_url="http://t")
    anonymous = [e["resource"] for e in everything["entry"]
                 if e["resource"]["agent"][0]["who"].get("display") == "unauthenticated client"]
    assert len(anonymous) == 1


def test_audit_events_hold_the_query_but_no_resource_content(app_client, as_client):
    writer = as_client("hospital-a", "system/*.cruds tessera/audit.read")
    app_client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Secretive"}],
                                           "birthDate": "1970-01-01"}, headers=writer)
    app_client.get("/fhir/Patient", params={"birthdate": "1970"}, headers=writer)
    events = app_client.get("/fhir/AuditEvent", params={"_count": "100"}, headers=writer).json()
    text = str(events)
    assert "Secretive" not in text
    queries = [base64.b64decode(x["query"]).decode() for e in events["entry"]
               for x in e["resource"].get("entity", []) if "query" in x]
    assert "birthdate=1970" in queries


def test_the_audit_trail_is_append_only_and_needs_the_audit_scope(app_client, as_client):
    auditor = as_client("hospital-a", "system/*.cruds tessera/audit.read")
    app_client.get("/fhir/Patient", headers=auditor)
    event = app_client.get("/fhir/AuditEvent", headers=auditor).json()["entry"][0]["resource"]
    assert app_client.put(f"/fhir/AuditEvent/{event['id']}", json=event, headers=auditor).status_code == 405
    assert app_client.delete(f"/fhir/AuditEvent/{event['id']}", headers=auditor).status_code == 405
    assert app_client.post("/fhir/AuditEvent", json=event, headers=auditor).status_code == 405
    assert app_client.get("/fhir/AuditEvent", headers=as_client("hospital-a", "system/*.cruds")).status_code == 403
    other = app_client.get("/fhir/AuditEvent", headers=as_client("hospital-b", "system/*.rs tessera/audit.read"))
    assert other.json()["total"] == 0  # another institution's trail is not visible
