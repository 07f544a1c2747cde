"""Create, read, update, delete, versioning and conditional interactions, on SQLite and PostgreSQL."""
from __future__ import annotations

from tests.integration.conftest import FHIR_JSON


def patient(family: str = "Nguyen", **extra: object) -> dict:
    return {"resourceType": "Patient", "name": [{"family": family, "given": ["Lan"]}], **extra}


def test_create_assigns_id_version_and_meta(api):
    response = api.post("/fhir/Patient", json=patient(id="client-chosen"), headers=FHIR_JSON)
    assert response.status_code == 201
    body = response.json()
    assert body["id"] != "client-chosen"
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"].endswith("+00:00")
    assert body["meta"]["source"] == "urn:tessera:api"
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"].endswith(f"/fhir/Patient/{body['id']}/_history/1")
    assert response.headers["content-type"].startswith("application/fhir+json")


def test_meta_source_given_by_the_writer_is_kept(api):
    body = api.post("/fhir/Patient", json=patient(meta={"source": "http://lab.example/feed"}),
                    headers=FHIR_JSON).json()
    assert body["meta"]["source"] == "http://lab.example/feed"


def test_read_and_vread_return_each_version(api):
    created = api.post("/fhir/Patient", json=patient("First"), headers=FHIR_JSON).json()
    pid = created["id"]
    updated = api.put(f"/fhir/Patient/{pid}", json={**patient("Second"), "id": pid}, headers=FHIR_JSON)
    assert updated.status_code == 200
    assert updated.json()["meta"]["versionId"] == "2"
    assert api.get(f"/fhir/Patient/{pid}").json()["name"][0]["family"] == "Second"
    assert api.get(f"/fhir/Patient/{pid}/_history/1").json()["name"][0]["family"] == "First"
    assert api.get(f"/fhir/Patient/{pid}/_history/9").status_code == 404


def test_update_as_create_uses_the_client_id(api):
    response = api.put("/fhir/Patient/mrn-4711", json={**patient(), "id": "mrn-4711"}, headers=FHIR_JSON)
    assert response.status_code == 201
    assert api.get("/fhir/Patient/mrn-4711").json()["id"] == "mrn-4711"


def test_an_update_that_repeats_the_current_version_makes_no_new_one(container, api):
    first = api.put("/fhir/Patient/same-again", json=patient(id="same-again"), headers=FHIR_JSON)
    assert first.status_code == 201
    again = api.put("/fhir/Patient/same-again", json=patient(id="same-again"), headers=FHIR_JSON)
    echoed = api.put("/fhir/Patient/same-again", json=first.json(), headers=FHIR_JSON)  # read, then sent back
    for response in (again, echoed):
        assert response.status_code == 200 and response.headers["etag"] == 'W/"1"'
        assert response.json()["meta"] == first.json()["meta"]
    history = api.get("/fhir/Patient/same-again/_history").json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["1"]
    changed = api.put("/fhir/Patient/same-again", json=patient("Tran", id="same-again"), headers=FHIR_JSON)
    assert changed.status_code == 200 and changed.headers["etag"] == 'W/"2"'
    elsewhere = api.put("/fhir/Patient/same-again", json=patient("Tran", id="same-again", meta={"source": "urn:b"}),
                        headers=FHIR_JSON)
    assert elsewhere.headers["etag"] == 'W/"3"'  # the same content from another source is a new version


def test_update_with_mismatched_id_is_rejected_with_the_path(api):
    response = api.put("/fhir/Patient/a", json={**patient(), "id": "b"}, headers=FHIR_JSON)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Patient.id"]


def test_if_match_guards_against_lost_updates(api):
    pid = api.post("/fhir/Patient", json=patient(), headers=FHIR_JSON).json()["id"]
    ok = api.put(f"/fhir/Patient/{pid}", json={**patient("B"), "id": pid}, headers={**FHIR_JSON, "If-Match": 'W/"1"'})
    assert ok.status_code == 200
    stale = api.put(f"/fhir/Patient/{pid}", json={**patient("C"), "id": pid},
                    headers={**FHIR_JSON, "If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"
    assert api.get(f"/fhir/Patient/{pid}").json()["name"][0]["family"] == "B"


def test_delete_makes_a_new_version_and_read_answers_gone(api):
    pid = api.post("/fhir/Patient", json=patient(), headers=FHIR_JSON).json()["id"]
    assert api.delete(f"/fhir/Patient/{pid}").status_code == 204
    gone = api.get(f"/fhir/Patient/{pid}")
    assert gone.status_code == 410
    assert gone.json()["issue"][0]["code"] == "deleted"
    assert api.get(f"/fhir/Patient/{pid}/_history/1").status_code == 200
    history = api.get(f"/fhir/Patient/{pid}/_history").json()
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "POST"]
    assert api.get("/fhir/Patient", params={"_id": pid}).json()["total"] == 0
    assert api.delete(f"/fhir/Patient/{pid}").status_code == 204
    assert api.get(f"/fhir/Patient/{pid}/_history").json()["total"] == 2


def test_delete_of_an_unknown_resource_is_not_found(api):
    assert api.delete("/fhir/Patient/never-existed").status_code == 404


def test_recreate_after_delete_continues_the_version_sequence(api):
    api.put("/fhir/Patient/re", json={**patient(), "id": "re"}, headers=FHIR_JSON)
    api.delete("/fhir/Patient/re")
    again = api.put("/fhir/Patient/re", json={**patient(), "id": "re"}, headers=FHIR_JSON)
    assert again.status_code == 201
    assert again.json()["meta"]["versionId"] == "3"


def test_conditional_create_returns_the_existing_match(api):
    resource = patient(identifier=[{"system": "urn:mrn", "value": "77"}])
    first = api.post("/fhir/Patient", json=resource, headers={**FHIR_JSON, "If-None-Exist": "identifier=urn:mrn|77"})
    second = api.post("/fhir/Patient", json=resource, headers={**FHIR_JSON, "If-None-Exist": "identifier=urn:mrn|77"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert api.get("/fhir/Patient", params={"identifier": "urn:mrn|77"}).json()["total"] == 1


def test_conditional_create_with_several_matches_is_a_precondition_failure(api):
    for _ in range(2):
        api.post("/fhir/Patient", json=patient("Twin"), headers=FHIR_JSON)
    response = api.post("/fhir/Patient", json=patient("Twin"), headers={**FHIR_JSON, "If-None-Exist": "family=Twin"})
    assert response.status_code == 412


def test_conditional_update_creates_then_updates(api):
    resource = patient(identifier=[{"system": "urn:mrn", "value": "88"}])
    created = api.put("/fhir/Patient?identifier=urn:mrn|88", json=resource, headers=FHIR_JSON)
    assert created.status_code == 201
    updated = api.put("/fhir/Patient?identifier=urn:mrn|88", json={**resource, "gender": "female"}, headers=FHIR_JSON)
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert updated.json()["meta"]["versionId"] == "2"


def test_conditional_delete_removes_the_single_match(api):
    api.post("/fhir/Patient", json=patient(identifier=[{"system": "urn:mrn", "value": "99"}]), headers=FHIR_JSON)
    assert api.delete("/fhir/Patient?identifier=urn:mrn|99").status_code == 204
    assert api.get("/fhir/Patient", params={"identifier": "urn:mrn|99"}).json()["total"] == 0


def test_prefer_return_minimal_sends_no_body(api):
    response = api.post("/fhir/Patient", json=patient(), headers={**FHIR_JSON, "Prefer": "return=minimal"})
    assert response.status_code == 201
    assert response.content == b""
    assert response.headers["location"]


def test_every_write_lands_in_the_outbox_in_the_same_transaction(container, api):
    pid = api.post("/fhir/Patient", json=patient(), headers=FHIR_JSON).json()["id"]
    api.put(f"/fhir/Patient/{pid}", json={**patient("X"), "id": pid}, headers=FHIR_JSON)
    api.delete(f"/fhir/Patient/{pid}")
    with container.store.unit_of_work(read_only=True) as uow:
        events = [e for e in uow.outbox(limit=1000) if e.resource_type == "Patient" and e.resource_id == pid]
    assert [(e.resource_id, e.version, e.operation) for e in events] == [
        (pid, 1, "upsert"), (pid, 2, "upsert"), (pid, 3, "delete")]


def _server_made(entry: dict) -> bool:
    """The server's own versions in a history: its AuditEvents and golden-record Patients."""
    tags = ((entry.get("resource") or {}).get("meta") or {}).get("tag") or []
    return entry["request"]["url"].startswith("AuditEvent") or any(t.get("code") == "GOLDEN_RECORD" for t in tags)


def test_history_levels_since_and_count(api):
    first = api.post("/fhir/Patient", json=patient("A"), headers=FHIR_JSON).json()
    since = first["meta"]["lastUpdated"]
    api.post("/fhir/Observation", json={"resourceType": "Observation", "status": "final", "code": {"text": "x"}},
             headers=FHIR_JSON)
    api.put(f"/fhir/Patient/{first['id']}", json={**patient("B"), "id": first["id"]}, headers=FHIR_JSON)
    system = api.get("/fhir/_history", params={"_count": 100}).json()
    clinical = [e for e in system["entry"] if not _server_made(e)]
    assert system["type"] == "history" and len(clinical) == 3
    assert [e["request"]["method"] for e in clinical] == ["PUT", "POST", "POST"]  # newest first
    patients = api.get("/fhir/Patient/_history").json()
    assert len([e for e in patients["entry"] if not _server_made(e)]) == 2
    paged = api.get("/fhir/_history", params={"_count": 1}).json()
    assert len(paged["entry"]) == 1
    assert any(link["relation"] == "next" for link in paged["link"])
    recent = api.get("/fhir/_history", params={"_since": since, "_count": 100}).json()
    assert len([e for e in recent["entry"] if not _server_made(e)]) == 3
    later = api.get("/fhir/_history", params={"_since": "2999-01-01T00:00:00Z"}).json()
    assert later["total"] == 0


def test_every_r4_resource_type_is_accepted_including_r4_only_ones(api):
    medicinal = {"resourceType": "MedicinalProduct", "name": [{"productName": "Example"}]}
    claim = {"resourceType": "Claim", "status": "active", "type": {"text": "oral"}, "use": "claim",
             "patient": {"display": "x"}, "created": "2020-01-01", "provider": {"display": "y"},
             "priority": {"text": "normal"}, "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "z"}}]}
    for resource in (medicinal, claim):
        response = api.post(f"/fhir/{resource['resourceType']}", json=resource, headers=FHIR_JSON)
        assert response.status_code == 201, response.text
