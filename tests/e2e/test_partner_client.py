"""A partner system's view: the independent `fhirclient` library against the real server on both backends."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import requests
from fhirclient import client
from fhirclient.models.bundle import Bundle
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient

from tests.e2e.conftest import FHIR_JSON, ServerURL

pytestmark = pytest.mark.filterwarnings("ignore:perform.*deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def partner(server: ServerURL) -> Any:
    """fhirclient's server object, prepared the way a SMART client does (it reads /metadata first)."""
    smart = client.FHIRClient(settings={"app_id": "tessera-e2e-partner", "api_base": str(server)})
    smart.server.session.headers.update(server.headers)  # a bearer token issued to the partner out of band
    smart.server.prepare()
    return smart.server


def _without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}


def _patient_json(family: str, system: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "active": True,
            "identifier": [{"system": system, "value": value}],
            "name": [{"use": "official", "family": family, "given": ["Amara", "Ngozi"]}],
            "gender": "female", "birthDate": "1984-03-17",
            "telecom": [{"system": "phone", "value": "+44 20 7946 0000", "use": "home"}],
            "address": [{"line": ["12 Harbour Row"], "city": "Lyme Regis", "postalCode": "DT7 3QA",
                         "country": "GB"}], **extra}


def test_partner_client_reads_the_capability_statement(partner: Any) -> None:
    statement = partner.capabilityStatement
    assert statement.fhirVersion == "4.0.1"
    assert statement.kind == "instance" and statement.status == "active"
    assert "json" in " ".join(statement.format)
    patient = next(r for r in statement.rest[0].resource if r.type == "Patient")
    interactions = {i.code for i in patient.interaction}
    assert {"read", "vread", "create", "update", "delete", "search-type", "history-instance"} <= interactions
    assert {"family", "identifier", "birthdate"} <= {p.name for p in patient.searchParam}


def test_partner_creates_and_reads_back_a_patient(partner: Any) -> None:
    original = _patient_json("Okonkwo", "urn:oid:2.16.840.1.113883.2.1.4.1", uuid.uuid4().hex[:10])
    created = Patient(original).create(partner)
    assert created and created.get("id"), created
    assert _without_meta(created) == {**original, "id": created["id"]}
    assert created["meta"]["versionId"] == "1"
    read = Patient.read(created["id"], partner)
    assert read.id == created["id"]
    assert read.name[0].family == "Okonkwo" and read.name[0].given == ["Amara", "Ngozi"]
    assert read.birthDate.isostring == "1984-03-17" and read.gender == "female"
    assert read.address[0].postalCode == "DT7 3QA" and read.telecom[0].value == "+44 20 7946 0000"
    assert _without_meta(read.as_json()) == {**original, "id": created["id"]}


def test_partner_searches_patients_by_family_identifier_and_birthdate(partner: Any) -> None:
    family = f"Adeyemi{uuid.uuid4().hex[:6]}"
    system = f"urn:uuid:{uuid.uuid4()}"
    ids = [Patient(_patient_json(family, system, f"P-{n}", birthDate=f"19{60 + n}-05-0{n + 1}")).create(partner)["id"]
           for n in range(5)]
    by_family = Patient.where(struct={"family": family.lower()}).perform_resources(partner)
    assert sorted(p.id for p in by_family) == sorted(ids)
    paged = Patient.where(struct={"family": family, "_count": "2"}).perform_resources(partner)
    assert sorted(p.id for p in paged) == sorted(ids), "fhirclient follows next links across 3 pages"
    by_identifier = Patient.where(struct={"identifier": f"{system}|P-3"}).perform_resources(partner)
    assert [p.id for p in by_identifier] == [ids[3]]
    born = Patient.where(struct={"family": family, "birthdate": "ge1962"}).perform_resources(partner)
    assert sorted(p.id for p in born) == sorted(ids[2:])
    assert Patient.where(struct={"family": family, "gender": "male"}).perform_resources(partner) == []


def test_partner_updates_a_patient_and_sees_both_versions(partner: Any) -> None:
    created = Patient(_patient_json("Mensah", "urn:example:partner", uuid.uuid4().hex)).create(partner)
    patient = Patient.read(created["id"], partner)
    patient.name[0].given = ["Efua"]
    patient.birthDate = None
    patient.deceasedBoolean = False
    updated = patient.update(partner)
    assert updated["meta"]["versionId"] == "2"
    again = Patient.read(created["id"], partner)
    assert again.name[0].given == ["Efua"] and again.birthDate is None and again.deceasedBoolean is False
    assert again.meta.versionId == "2"
    first = Patient.read_from(f"Patient/{created['id']}/_history/1", partner)
    assert first.name[0].given == ["Amara", "Ngozi"] and first.birthDate.isostring == "1984-03-17"
    history = Bundle.read_from(f"Patient/{created['id']}/_history", partner)
    assert history.type == "history" and history.total == 2
    assert [e.resource.meta.versionId for e in history.entry] == ["2", "1"]


def test_partner_records_an_observation_and_finds_it_by_patient_and_code(partner: Any) -> None:
    patient_id = Patient(_patient_json("Boateng", "urn:example:partner", uuid.uuid4().hex)).create(partner)["id"]
    weight = {"resourceType": "Observation", "status": "final",
              "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                        "code": "vital-signs"}]}],
              "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]},
              "subject": {"reference": f"Patient/{patient_id}"}, "effectiveDateTime": "2024-02-29T08:15:00+01:00",
              "valueQuantity": {"value": 71.35, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}
    created = Observation(weight).create(partner)
    assert _without_meta(created) == {**weight, "id": created["id"]}
    found = Observation.where(struct={"patient": patient_id, "code": "http://loinc.org|29463-7"}
                              ).perform_resources(partner)
    assert [o.id for o in found] == [created["id"]]
    assert found[0].valueQuantity.value == 71.35 and found[0].valueQuantity.code == "kg"
    assert found[0].effectiveDateTime.isostring == "2024-02-29T08:15:00+01:00"
    heavy = Observation.where(struct={"patient": patient_id, "value-quantity": "gt71.3|http://unitsofmeasure.org|kg"}
                              ).perform_resources(partner)
    assert [o.id for o in heavy] == [created["id"]]
    same_day_utc = Observation.where(struct={"patient": patient_id, "date": "2024-02-29"}).perform_resources(partner)
    assert [o.id for o in same_day_utc] == [created["id"]]


def test_partner_posts_a_transaction_bundle(partner: Any) -> None:
    patient_url = f"urn:uuid:{uuid.uuid4()}"
    family = f"Asante{uuid.uuid4().hex[:6]}"
    bundle = Bundle({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": patient_url, "resource": {"resourceType": "Patient", "name": [{"family": family}]},
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Observation", "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
                      "subject": {"reference": patient_url},
                      "valueQuantity": {"value": 168, "unit": "cm", "system": "http://unitsofmeasure.org",
                                        "code": "cm"}},
         "request": {"method": "POST", "url": "Observation"}}]})
    answer = Bundle(bundle.create(partner))
    assert answer.type == "transaction-response"
    assert [e.response.status[:3] for e in answer.entry] == ["201", "201"]
    patient_id = answer.entry[0].response.location.split("/")[1]
    observation = Observation.read(answer.entry[1].response.location.split("/")[1], partner)
    assert observation.subject.reference == f"Patient/{patient_id}"
    assert [p.id for p in Patient.where(struct={"family": family}).perform_resources(partner)] == [patient_id]


def test_partner_deletes_a_patient_and_reads_gone(partner: Any) -> None:
    created = Patient(_patient_json("Owusu", "urn:example:partner", uuid.uuid4().hex)).create(partner)
    Patient.read(created["id"], partner).delete(partner)
    with pytest.raises(requests.HTTPError) as failure:
        Patient.read(created["id"], partner)
    assert failure.value.response.status_code == 410
    outcome = failure.value.response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert Patient.where(struct={"_id": created["id"]}).perform_resources(partner) == []


def test_concurrent_partner_writes_all_succeed(server: ServerURL) -> None:
    """Eight partner connections creating patients at once: every write lands, none is lost."""
    system = f"urn:uuid:{uuid.uuid4()}"

    def write(worker: int) -> list[int]:
        statuses = []
        with httpx.Client(base_url=str(server) + "/", headers=server.headers, timeout=60) as http:
            for n in range(6):
                body = _patient_json(f"Concurrent{worker}", system, f"{worker}-{n}")
                statuses.append(http.post("Patient", json=body, headers=FHIR_JSON).status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [s for batch in pool.map(write, range(8)) for s in batch]
    assert statuses == [201] * 48
    response = httpx.get(f"{server}/Patient", params={"identifier": f"{system}|", "_summary": "count"},
                         headers=server.headers)
    assert response.status_code == 200 and response.json()["total"] == 48


def test_requests_without_a_valid_bearer_token_are_refused(server: ServerURL) -> None:
    """Patient data needs the partner's token; the CapabilityStatement does not."""
    assert httpx.get(f"{server}/metadata", timeout=30).status_code == 200
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": f"Basic {server.token}"}):
        response = httpx.get(f"{server}/Patient", headers=headers, timeout=30)
        assert response.status_code == 401, (headers, response.status_code, response.text[:300])
        assert response.json()["resourceType"] == "OperationOutcome"
    create = httpx.post(f"{server}/Patient", json={"resourceType": "Patient"}, headers=FHIR_JSON, timeout=30)
    assert create.status_code == 401
    assert httpx.get(f"{server}/Patient", headers=server.headers, timeout=30).status_code == 200


def test_audit_events_are_not_readable_without_the_audit_scope(server: ServerURL) -> None:
    """README: AuditEvents are readable with `tessera/audit.read`; the partner's `system/*.cruds` token lacks it."""
    with httpx.Client(base_url=str(server) + "/", headers=server.headers, timeout=60) as http:
        created = http.post("Patient", json=_patient_json("Audited", "urn:example:partner", uuid.uuid4().hex),
                            headers=FHIR_JSON)
        assert created.status_code == 201
        for path in ("AuditEvent", "AuditEvent/_history"):
            response = http.get(path)
            assert response.status_code == 403, (path, response.status_code, response.text[:300])
        history = http.get("_history", params={"_count": "1000"})
        assert history.status_code == 200
        leaked = [e["fullUrl"] for e in history.json().get("entry", [])
                  if e.get("resource", {}).get("resourceType") == "AuditEvent"]
        assert not leaked, f"GET /fhir/_history shows {len(leaked)} AuditEvents to a token without tessera/audit.read"
