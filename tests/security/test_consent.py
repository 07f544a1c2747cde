"""Institution isolation under consent: absent means absent (404, totals, includes), break-glass is audited."""
from __future__ import annotations


def _patient_with_observation(client, headers, *, label: str | None = None) -> tuple[str, str]:
    pid = client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Consenting"}]},
                      headers=headers).json()["id"]
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "viral load"},
                   "subject": {"reference": f"Patient/{pid}"}}
    if label:
        observation["meta"] = {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                             "code": label}]}
    oid = client.post("/fhir/Observation", json=observation, headers=headers).json()["id"]
    return pid, oid


def _consent(pid: str, provision: dict) -> dict:
    return {"resourceType": "Consent", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                  "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": f"Patient/{pid}"}, "provision": provision}


def _deny_for(institution: str) -> dict:
    return {"type": "permit", "provision": [{"type": "deny", "actor": [{
        "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                             "code": "IRCP"}]},
        "reference": {"identifier": {"value": institution}}}]}]}


def test_default_opt_out_shares_with_other_institutions(app_client, as_client):
    pid, oid = _patient_with_observation(app_client, as_client("hospital-a"))
    b = as_client("hospital-b")
    assert app_client.get(f"/fhir/Patient/{pid}", headers=b).status_code == 200
    assert app_client.get("/fhir/Observation", params={"subject": f"Patient/{pid}"}, headers=b).json()["total"] == 1


def test_a_deny_consent_hides_everything_and_takes_effect_on_the_next_request(app_client, as_client):
    a, b = as_client("hospital-a"), as_client("hospital-b")
    pid, oid = _patient_with_observation(app_client, a)
    consent = app_client.post("/fhir/Consent", json=_consent(pid, _deny_for("hospital-b")), headers=a)
    assert consent.status_code == 201, consent.text
    assert app_client.get(f"/fhir/Patient/{pid}", headers=b).status_code == 404
    assert app_client.get(f"/fhir/Observation/{oid}", headers=b).status_code == 404
    search = app_client.get("/fhir/Observation", params={"subject": f"Patient/{pid}"}, headers=b).json()
    assert search["total"] == 0 and "entry" not in search
    included = app_client.get("/fhir/Observation", params={"_id": oid, "_include": "Observation:subject"},
                              headers=b).json()
    assert included["total"] == 0
    assert app_client.get(f"/fhir/Patient/{pid}/_history", headers=b).status_code == 404
    # the owner still sees everything; a third institution is not affected by a deny aimed at B
    assert app_client.get(f"/fhir/Observation/{oid}", headers=a).status_code == 200
    assert app_client.get(f"/fhir/Observation/{oid}", headers=as_client("hospital-c")).status_code == 200
    app_client.delete(f"/fhir/Consent/{consent.json()['id']}", headers=a)
    assert app_client.get(f"/fhir/Observation/{oid}", headers=b).status_code == 200


def test_sensitive_data_is_not_shared_without_an_explicit_permit(app_client, as_client):
    a, b = as_client("hospital-a"), as_client("hospital-b")
    pid, oid = _patient_with_observation(app_client, a, label="HIV")
    assert app_client.get(f"/fhir/Observation/{oid}", headers=b).status_code == 404
    assert app_client.get(f"/fhir/Patient/{pid}", headers=b).status_code == 200
    permit = {"type": "permit", "securityLabel": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HIV"}],
        "actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                        "code": "IRCP"}]}, "reference": {"identifier": {"value": "hospital-b"}}}]}
    assert app_client.post("/fhir/Consent", json=_consent(pid, permit), headers=a).status_code == 201
    assert app_client.get(f"/fhir/Observation/{oid}", headers=b).status_code == 200


def test_break_the_glass_needs_its_scope_and_is_audited(app_client, as_client):
    a = as_client("hospital-a", scope="system/*.cruds tessera/audit.read")
    pid, oid = _patient_with_observation(app_client, a)
    app_client.post("/fhir/Consent", json=_consent(pid, _deny_for("hospital-b")), headers=a)
    plain = as_client("hospital-b", "system/*.cruds", **{"X-Break-Glass": "unconscious patient in ER"})
    assert app_client.get(f"/fhir/Observation/{oid}", headers=plain).status_code == 403
    glass = as_client("hospital-b", "system/*.cruds tessera/break-glass tessera/audit.read",
                      **{"X-Break-Glass": "unconscious patient in ER"})
    assert app_client.get(f"/fhir/Observation/{oid}", headers=glass).status_code == 200
    report = app_client.get("/fhir/AuditEvent", params={"subtype": "urn:tessera:audit|break-glass"},
                            headers=as_client("hospital-b", "system/*.rs tessera/audit.read")).json()
    assert report["total"] == 1
    event = report["entry"][0]["resource"]
    assert event["purposeOfEvent"][0]["text"] == "unconscious patient in ER"
    assert {"reference": f"Observation/{oid}"} in [e.get("what") for e in event["entity"]]


def test_a_patient_context_token_sees_only_that_compartment(app_client, as_client):
    a = as_client("hospital-a")
    mine, my_obs = _patient_with_observation(app_client, a)
    theirs, their_obs = _patient_with_observation(app_client, a)
    patient_token = as_client("hospital-a", "patient/*.rs", patient=mine)
    assert app_client.get(f"/fhir/Observation/{my_obs}", headers=patient_token).status_code == 200
    assert app_client.get(f"/fhir/Observation/{their_obs}", headers=patient_token).status_code == 404
    assert app_client.get(f"/fhir/Patient/{theirs}", headers=patient_token).status_code == 404
    found = app_client.get("/fhir/Observation", headers=patient_token).json()
    assert found["total"] == 1


def test_writes_go_only_to_the_callers_institution(app_client, as_client):
    a, b = as_client("hospital-a"), as_client("hospital-b")
    pid, _ = _patient_with_observation(app_client, a)
    body = {"resourceType": "Patient", "id": pid, "name": [{"family": "Hijacked"}]}
    assert app_client.put(f"/fhir/Patient/{pid}", json=body, headers=b).status_code == 404
    assert app_client.get(f"/fhir/Patient/{pid}", headers=a).json()["name"][0]["family"] == "Consenting"


def test_a_conditional_update_matching_only_another_institutions_resource_creates_the_callers_own(app_client,
                                                                                                  as_client):
    a, b = as_client("hospital-a"), as_client("hospital-b")
    shared = "urn:shared-mrn|77"
    body = {"resourceType": "Patient", "identifier": [{"system": "urn:shared-mrn", "value": "77"}]}
    first = app_client.put(f"/fhir/Patient?identifier={shared}", json={**body, "name": [{"family": "A"}]}, headers=a)
    assert first.status_code == 201, first.text
    second = app_client.put(f"/fhir/Patient?identifier={shared}", json={**body, "name": [{"family": "B"}]}, headers=b)
    assert second.status_code == 201, second.text  # hospital-a's patient is absent to hospital-b's writes
    assert second.json()["id"] != first.json()["id"]
    assert app_client.get(f"/fhir/Patient/{first.json()['id']}", headers=a).json()["name"][0]["family"] == "A"
    again = app_client.put(f"/fhir/Patient?identifier={shared}", json={**body, "name": [{"family": "A2"}]}, headers=a)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"], again.text
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "pulse"},
                   "subject": {"reference": f"Patient?identifier={shared}"}}
    created = app_client.post("/fhir/Observation", json=observation, headers=b)
    assert created.status_code == 201, created.text  # the caller's own patient, not two ambiguous matches
    assert created.json()["subject"]["reference"] == f"Patient/{second.json()['id']}"


def test_a_conditional_update_finds_the_callers_resource_among_many_of_other_institutions(app_client, as_client):
    body = {"resourceType": "Patient", "identifier": [{"system": "urn:crowded-mrn", "value": "7"}]}
    for number in range(20):
        created = app_client.post("/fhir/Patient", json=body, headers=as_client(f"hospital-{number:02d}"))
        assert created.status_code == 201, created.text
    mine = as_client("hospital-zz")
    ids = {app_client.put("/fhir/Patient?identifier=urn:crowded-mrn|7", json={**body, "name": [{"family": f"V{n}"}]},
                          headers=mine).json()["id"] for n in range(3)}
    assert len(ids) == 1
