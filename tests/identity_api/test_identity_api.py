"""Identity matching in the live server: golden records, links, manual decisions, merges, visibility."""
from __future__ import annotations

from tests.feeds import messages
from tests.identity_api.conftest import FHIR_JSON, patient, token_for

OTHER = "city-clinic"


def _as(container, institution: str, scope: str | None = None) -> dict[str, str]:
    kwargs = {"institution": institution}
    if scope:
        kwargs["scope"] = scope
    return {"Authorization": f"Bearer {token_for(container, **kwargs)}", **FHIR_JSON}


def _create(api, body, headers=None) -> str:
    response = api.post("/fhir/Patient", json=body, headers=headers or FHIR_JSON)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _golden(api, headers=None) -> list[dict]:
    items, url = [], "/api/identity/golden-records?_count=2"
    while url:
        page = api.get(url, headers=headers).json()
        items.extend(page["items"])
        url = page["next"]
    return items


def _members_of(api, pid: str, headers=None) -> set[str]:
    response = api.get(f"/api/identity/links?patient=Patient/{pid}", headers=headers)
    assert response.status_code == 200, response.text
    return {m["patient"] for m in response.json()["members"]}


def test_golden_records_cover_every_source_patient_exactly_once(api, container):
    a = _create(api, patient("Maria", "Garcia", "1975-06-02", mrn="1"))
    b = _create(api, patient("Mария", "Petrova", "1990-01-01", mrn="2", line="3 Oak Rd", phone=None))
    c = _create(api, patient("Maria", "Garcia", "1975-06-02", mrn="A9", system="urn:mrn:city"),
                _as(container, OTHER))
    d = _create(api, patient("Tom", "Lee", "2001-12-12", mrn="4", line="9 Elm St", phone="555-0199"))
    items = _golden(api)
    members = [m for item in items for m in item["members"]]
    assert sorted(members) == sorted(f"Patient/{x}" for x in (a, b, c, d))
    assert len(items) == 3
    assert {f"Patient/{a}", f"Patient/{c}"} in [set(item["members"]) for item in items]
    assert all(item["id"].startswith("Patient/") for item in items)


def test_typo_duplicate_links_and_everything_is_the_union_without_duplicates(api, container):
    a = _create(api, patient("Jonathan", "Smith", "1980-03-12", mrn="77"))
    other = _as(container, OTHER)
    b = _create(api, patient("Jonathon", "Smtih", "1980-03-12", mrn="C-5", system="urn:mrn:city"), other)
    assert _members_of(api, a) == {f"Patient/{a}", f"Patient/{b}"}
    glucose = {"resourceType": "Observation", "status": "final", "category": [{"coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]},
        "effectiveDateTime": "2024-01-05T10:00:00Z", "valueQuantity": {"value": 5.4, "unit": "mmol/L"}}
    for pid, headers in ((a, FHIR_JSON), (b, other)):
        assert api.post("/fhir/Observation", json={**glucose, "subject": {"reference": f"Patient/{pid}"}},
                        headers=headers).status_code == 201
    condition = {"resourceType": "Condition", "subject": {"reference": f"Patient/{b}"},
                 "code": {"text": "Asthma"}, "clinicalStatus": {"coding": [{"code": "active"}]}}
    assert api.post("/fhir/Condition", json=condition, headers=other).status_code == 201
    bundle = api.get(f"/fhir/Patient/{a}/$everything").json()
    kinds = sorted(e["resource"]["resourceType"] for e in bundle["entry"])
    assert kinds == ["Condition", "Observation", "Patient", "Patient"]
    [observation] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert any(x["url"] == "urn:tessera:mdm:also-recorded-by" for x in observation["extension"])
    golden = api.get(f"/api/identity/links?patient=Patient/{a}").json()["golden"]
    same = api.get(f"/fhir/{golden}/$everything").json()
    assert sorted(e["fullUrl"] for e in same["entry"]) == sorted(e["fullUrl"] for e in bundle["entry"])
    only_obs = api.get(f"/fhir/Patient/{b}/$everything?_type=Observation").json()
    assert only_obs["total"] == 1


def test_twins_are_not_merged(api):
    anna = _create(api, patient("Anna", "Novak", "2010-04-04", mrn="T1"))
    maria = _create(api, patient("Maria", "Novak", "2010-04-04", mrn="T2"))
    assert _members_of(api, anna) == {f"Patient/{anna}"}
    assert _members_of(api, maria) == {f"Patient/{maria}"}


def test_manual_unlink_wins_over_automatic_matching(api, container):
    a = _create(api, patient("Jonathan", "Smith", "1980-03-12", mrn="77"))
    b_body = patient("Jonathan", "Smith", "1980-03-12", mrn="C-5", system="urn:mrn:city")
    other = _as(container, OTHER)
    b = _create(api, b_body, other)
    assert _members_of(api, a) == {f"Patient/{a}", f"Patient/{b}"}
    response = api.request("DELETE", "/api/identity/links", json={"patient": f"Patient/{b}", "reason": "not him"},
                           headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    assert _members_of(api, a) == {f"Patient/{a}"}
    assert api.put(f"/fhir/Patient/{b}", json={**b_body, "id": b, "active": True}, headers=other).status_code == 200
    assert _members_of(api, b) == {f"Patient/{b}"}
    links = api.get(f"/api/identity/links?patient=Patient/{a}").json()
    assert [p["manual"] for p in links["pairs"]] == []  # b's pair is not visible from a's single-member record
    # and a manual link brings them back together, recorded as manual
    assert api.post("/api/identity/links", json={"patient": f"Patient/{a}", "other": f"Patient/{b}"},
                    headers=FHIR_JSON).status_code == 200
    view = api.get(f"/api/identity/links?patient=Patient/{a}").json()
    assert {m["patient"] for m in view["members"]} == {f"Patient/{a}", f"Patient/{b}"}
    assert all(m["manual"] for m in view["members"])


def test_review_queue_and_decisions(api, container):
    a = _create(api, patient("Maria", "Garcia", "1975-06-02", mrn="R1", phone=None))
    b = _create(api, patient("Mary", "Garcia", "1975-02-06", mrn="Z1", system="urn:mrn:city", phone=None,
                             line="500 Mission St", city="San Francisco", postcode="94110"), _as(container, OTHER))
    items = api.get("/api/identity/review").json()["items"]
    [item] = [i for i in items if set(i["patients"]) == {f"Patient/{a}", f"Patient/{b}"}]
    assert item["decision"] == "possible" and 0.5 <= item["probability"] < 0.99
    assert item["explanation"]["evidence"]
    assert _members_of(api, a) == {f"Patient/{a}"}
    plain = {"Authorization": f"Bearer {token_for(container, scope='user/*.cruds')}", **FHIR_JSON}
    assert api.post(f"/api/identity/review/{item['id']}", json={"decision": "match"},
                    headers=plain).status_code == 403
    decided = api.post(f"/api/identity/review/{item['id']}", json={"decision": "match"}, headers=FHIR_JSON)
    assert decided.status_code == 200 and decided.json()["manual"] == "match"
    assert _members_of(api, a) == {f"Patient/{a}", f"Patient/{b}"}
    assert api.get("/api/identity/review").json()["items"] == []
    assert api.post(f"/api/identity/review/{item['id']}", json={"decision": "no-match"},
                    headers=FHIR_JSON).status_code == 200
    assert _members_of(api, a) == {f"Patient/{a}"}


def test_an_hl7_a40_merge_is_a_manual_grade_link(api, container):
    assert container.feeds.receive(messages.adt("A01", "M1", mrn="OLD1", family="Doe", given="Jane").encode()
                                   ).ack_code == "AA"
    assert container.feeds.receive(messages.adt("A01", "M2", mrn="NEW1", family="Roe", given="Ann",
                                                birth="19910707", visit="V2").encode()).ack_code == "AA"
    ids = {p["resource"]["identifier"][0]["value"]: p["resource"]["id"]
           for p in api.get("/fhir/Patient").json()["entry"]}
    assert _members_of(api, ids["OLD1"]) == {f"Patient/{ids['OLD1']}"}
    assert container.feeds.receive(messages.a40("M3", survivor="NEW1", merged="OLD1").encode()).ack_code == "AA"
    view = api.get(f"/api/identity/links?patient=Patient/{ids['NEW1']}").json()
    assert {m["patient"] for m in view["members"]} == {f"Patient/{ids['OLD1']}", f"Patient/{ids['NEW1']}"}
    assert all(m["manual"] and m["decision"] == "manual" for m in view["members"])
    assert {m["actor"] for m in view["members"]} == {"hl7v2-merge"}


def test_summary_of_a_patient_seen_at_three_institutions(api, container):
    ids = []
    for n, institution in enumerate(("general-hospital", "city-clinic", "county-lab")):
        headers = _as(container, institution)
        body = patient("Jonathan", "Smith", "1980-03-12", mrn=f"S{n}", system=f"urn:mrn:{institution}")
        if n == 2:
            body["telecom"] = [{"system": "phone", "value": "617-555-0101"}, {"system": "email", "value": "j@x.org"}]
        pid = _create(api, body, headers)
        ids.append(pid)
        glucose = {"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{pid}"},
                   "category": [{"coding": [{"code": "laboratory"}]}],
                   "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]},
                   "effectiveDateTime": f"2024-0{n + 1}-05T10:00:00Z",
                   "valueQuantity": {"value": 5.0 + n, "unit": "mmol/L"}}
        assert api.post("/fhir/Observation", json=glucose, headers=headers).status_code == 201
    allergy = {"resourceType": "AllergyIntolerance", "patient": {"reference": f"Patient/{ids[1]}"},
               "code": {"text": "Penicillin"}, "clinicalStatus": {"coding": [{"code": "active"}]}}
    assert api.post("/fhir/AllergyIntolerance", json=allergy, headers=_as(container, OTHER)).status_code == 201
    summary = api.get(f"/api/patients/{ids[0]}/summary").json()
    assert sorted(summary["members"]) == sorted(f"Patient/{i}" for i in ids)
    assert set(summary["identifiers"]) == {"general-hospital", "city-clinic", "county-lab"}
    assert summary["demographics"]["telecom"]["source"] == f"Patient/{ids[2]}"
    assert summary["demographics"]["birthDate"]["value"] == "1980-03-12"
    [glucose] = summary["labs"]
    assert glucose["value"]["value"] == 7.0 and glucose["previous"]["value"]["value"] == 6.0
    assert glucose["trend"] == "up"
    assert [a["name"] for a in summary["allergies"]] == ["Penicillin"]


def test_members_another_institution_may_not_see_are_absent(api, container):
    a = _create(api, patient("Jonathan", "Smith", "1980-03-12", mrn="77"))
    other = _as(container, OTHER)
    b = _create(api, patient("Jonathan", "Smith", "1980-03-12", mrn="C-5", system="urn:mrn:city"), other)
    consent = {"resourceType": "Consent", "status": "active", "scope": {"coding": [{"code": "patient-privacy"}]},
               "category": [{"coding": [{"code": "INFA"}]}], "patient": {"reference": f"Patient/{b}"},
               "provision": {"type": "deny", "actor": [{"role": {"coding": [{"code": "IRCP"}]}, "reference": {
                   "identifier": {"value": "general-hospital"}}}]}}
    assert api.post("/fhir/Consent", json=consent, headers=other).status_code == 201
    assert _members_of(api, a) == {f"Patient/{a}"}
    assert _members_of(api, a, other) == {f"Patient/{a}", f"Patient/{b}"}
    assert f"Patient/{b}" not in [m for item in _golden(api) for m in item["members"]]
    assert api.get(f"/api/identity/links?patient=Patient/{b}").status_code == 404
    everything = api.get(f"/fhir/Patient/{a}/$everything").json()
    assert {e["resource"]["id"] for e in everything["entry"]} == {a}
    reader = {"Authorization": f"Bearer {token_for(container, scope='user/Observation.rs')}"}
    assert api.get(f"/api/identity/links?patient=Patient/{a}", headers=reader).status_code == 403
