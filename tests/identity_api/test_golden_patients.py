"""Golden records stored as FHIR Patients: versioned, readable, searchable by tag only, never matched or
written by clients, readable only where every member is; survivorship from the settings."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.identity.golden import field_provenance
from engine.settings import Settings
from adapters.bootstrap import build_container
from adapters.http.app import create_app
from tests.identity_api.conftest import FHIR_JSON, patient, token_for
from tests.integration.conftest import TestClient

OTHER = "city-clinic"
GOLDEN = "urn:tessera:mdm|GOLDEN_RECORD"


def _as(container, institution: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(container, institution=institution)}", **FHIR_JSON}


def _create(api, body, headers=None) -> str:
    response = api.post("/fhir/Patient", json=body, headers=headers or FHIR_JSON)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _golden_of(api, pid: str, headers=None) -> str:
    response = api.get(f"/api/identity/links?patient=Patient/{pid}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["golden"].split("/", 1)[1]


def _ids(bundle: dict) -> set[str]:
    return {e["resource"]["id"] for e in bundle.get("entry", [])}


def test_golden_records_are_versioned_patients_created_updated_and_deleted(api, container):
    a = _create(api, patient("Jonathan", "Smith", "1980-03-12", mrn="77"))
    golden = _golden_of(api, a)
    first = api.get(f"/fhir/Patient/{golden}")
    assert first.status_code == 200, first.text
    body = first.json()
    assert {"system": "urn:tessera:mdm", "code": "GOLDEN_RECORD", "display": "Golden record"} in body["meta"]["tag"]
    assert body["meta"]["source"] == "urn:tessera:mdm" and body["meta"]["versionId"] == "1"
    assert body["link"] == [{"other": {"reference": f"Patient/{a}"}, "type": "seealso"}]
    assert field_provenance(body)["birthDate"] == {"source": f"Patient/{a}", "rule": "most-complete"}

    b_body = patient("Jonathan", "Smith", "1980-03-12", mrn="C-5", system="urn:mrn:city",
                     phone="617-555-0199-ext-200")
    b = _create(api, b_body, _as(container, OTHER))
    assert _golden_of(api, b) == golden
    second = api.get(f"/fhir/Patient/{golden}").json()
    assert second["meta"]["versionId"] == "2"  # membership changed
    assert {x["other"]["reference"] for x in second["link"]} == {f"Patient/{a}", f"Patient/{b}"}
    assert field_provenance(second)["telecom"]["source"] == f"Patient/{b}"  # the longer phone survives
    assert {i["value"] for i in second["identifier"]} == {"77", "C-5"}

    unchanged = api.put(f"/fhir/Patient/{b}", json={**b_body, "id": b}, headers=_as(container, OTHER))
    assert unchanged.status_code == 200
    assert api.get(f"/fhir/Patient/{golden}").json()["meta"]["versionId"] == "2"  # same golden: no new version

    c = _create(api, patient("Maria", "Novak", "1990-01-01", mrn="N1", line="3 Oak Rd", phone=None))
    merged_away = _golden_of(api, c)
    assert merged_away != golden
    assert api.post("/api/identity/links", json={"patient": f"Patient/{a}", "other": f"Patient/{c}"},
                    headers=FHIR_JSON).status_code == 200
    survivor = _golden_of(api, c)
    assert survivor in (golden, merged_away)
    retired = merged_away if survivor == golden else golden
    assert api.get(f"/fhir/Patient/{retired}").status_code == 410  # a deleted version, history kept
    history = api.get(f"/fhir/Patient/{retired}/_history").json()
    assert [e["request"]["method"] for e in history["entry"]][0] == "DELETE"
    assert {x["other"]["reference"] for x in api.get(f"/fhir/Patient/{survivor}").json()["link"]} == {
        f"Patient/{a}", f"Patient/{b}", f"Patient/{c}"}


def test_patient_search_leaves_golden_records_out_unless_the_tag_asks_for_them(api, container):
    a = _create(api, patient("Jonathan", "Smith", "1980-03-12", mrn="77"))
    b = _create(api, patient("Jonathan", "Smith", "1980-03-12", mrn="C-5", system="urn:mrn:city"),
                _as(container, OTHER))
    golden = _golden_of(api, a)
    everyone = api.get("/fhir/Patient?_total=accurate").json()
    assert _ids(everyone) == {a, b} and everyone["total"] == 2
    assert api.get("/fhir/Patient?_summary=count").json()["total"] == 2
    assert _ids(api.get("/fhir/Patient?family=Smith").json()) == {a, b}
    tagged = api.get(f"/fhir/Patient?_tag={GOLDEN}").json()
    assert _ids(tagged) == {golden}
    assert _ids(api.get(f"/fhir/Patient?_tag={GOLDEN}&family=Smith").json()) == {golden}
    assert _ids(api.get(f"/fhir/Patient?_tag:not={GOLDEN}").json()) == {a, b}
    # identifiers belong to the members: a conditional create by identifier finds the source Patient only
    again = api.post("/fhir/Patient", json=patient("Jonathan", "Smith", "1980-03-12", mrn="77"),
                     headers={**FHIR_JSON, "If-None-Exist": "identifier=urn:mrn:general|77"})
    assert again.status_code == 200 and again.json()["id"] == a
    assert _ids(api.get("/fhir/Patient?identifier=urn:mrn:general|77").json()) == {a}
    # the golden record is never a member and never matched itself
    items = api.get("/api/identity/golden-records").json()["items"]
    assert items == [{"id": f"Patient/{golden}", "members": sorted([f"Patient/{a}", f"Patient/{b}"])}]
    assert set(container.identity.repo.links()) == {a, b}
    everything = api.get(f"/fhir/Patient/{golden}/$everything").json()
    assert _ids(everything) == {a, b}
    summary = api.get(f"/api/patients/{golden}/summary").json()
    assert summary["golden"] == f"Patient/{golden}"
    assert summary["demographics"]["birthDate"] == {"value": "1980-03-12", "source": f"Patient/{b}",
                                                     "rule": "most-complete"}


def test_clients_cannot_create_change_or_delete_golden_patients(api, container):
    a = _create(api, patient("Jonathan", "Smith", "1980-03-12", mrn="77"))
    golden = _golden_of(api, a)
    forged = {**patient("Eve", "Forger", "1970-01-01", mrn="F1"),
              "meta": {"tag": [{"system": "urn:tessera:mdm", "code": "GOLDEN_RECORD"}]}}
    assert api.post("/fhir/Patient", json=forged, headers=FHIR_JSON).status_code == 403
    current = api.get(f"/fhir/Patient/{golden}").json()
    changed = api.put(f"/fhir/Patient/{golden}", json={**current, "gender": "other"}, headers=FHIR_JSON)
    assert changed.status_code == 403, changed.text
    plain = {k: v for k, v in current.items() if k not in ("meta", "extension")}
    assert api.put(f"/fhir/Patient/{golden}", json=plain, headers=FHIR_JSON).status_code == 403
    assert api.delete(f"/fhir/Patient/{golden}").status_code == 403
    assert api.get(f"/fhir/Patient/{golden}").json()["meta"]["versionId"] == current["meta"]["versionId"]
    assert len(api.get("/api/identity/golden-records").json()["items"]) == 1
    consent = {"resourceType": "Consent", "status": "active", "scope": {"coding": [{"code": "patient-privacy"}]},
               "category": [{"coding": [{"code": "INFA"}]}], "patient": {"reference": f"Patient/{golden}"},
               "provision": {"type": "permit"}}
    refused = api.post("/fhir/Consent", json=consent, headers=FHIR_JSON)  # its members' Consents decide
    assert refused.status_code == 403 and "Consent.patient" in refused.text
    documented = [r for r in api.get("/fhir/metadata").json()["rest"][0]["resource"] if r["type"] == "Patient"]
    assert "GOLDEN_RECORD" in documented[0]["documentation"]


def test_a_golden_patient_is_readable_only_where_every_member_is(api, container):
    a = _create(api, patient("Jonathan", "Smith", "1980-03-12", mrn="77"))
    other = _as(container, OTHER)
    b = _create(api, patient("Jonathan", "Smith", "1980-03-12", mrn="C-5", system="urn:mrn:city"), other)
    golden = _golden_of(api, a)
    assert api.get(f"/fhir/Patient/{golden}").status_code == 200
    consent = {"resourceType": "Consent", "status": "active", "scope": {"coding": [{"code": "patient-privacy"}]},
               "category": [{"coding": [{"code": "INFA"}]}], "patient": {"reference": f"Patient/{b}"},
               "provision": {"type": "deny", "actor": [{"role": {"coding": [{"code": "IRCP"}]}, "reference": {
                   "identifier": {"value": "general-hospital"}}}]}}
    created = api.post("/fhir/Consent", json=consent, headers=other)
    assert created.status_code == 201
    assert api.get(f"/fhir/Patient/{golden}").status_code == 404  # b's values are in it
    assert api.get(f"/fhir/Patient/{golden}", headers=other).status_code == 200
    assert golden not in _ids(api.get(f"/fhir/Patient?_tag={GOLDEN}").json())
    assert api.get(f"/fhir/Patient/{a}/$everything").status_code == 200  # the caller's own view still works
    consent_id = created.json()["id"]
    assert api.delete(f"/fhir/Consent/{consent_id}", headers=other).status_code in (200, 204)
    assert api.get(f"/fhir/Patient/{golden}").status_code == 200


@pytest.fixture
def configured(store_url: str, tmp_path: Path):
    settings = Settings(database_url=store_url, data_dir=tmp_path, db_pool_size=2, jobs_inline=True,
                        identity_survivorship={"default": "most-recent", "telecom": ["trusted-source"],
                                               "birthDate": "most-complete"},
                        identity_trusted_sources=["county-lab", "city-clinic"])
    built = build_container(settings, migrate=False)
    yield built
    built.close()


def test_survivorship_follows_the_settings(configured):
    with TestClient(create_app(configured)) as api:
        hospital, clinic = _as(configured, "general-hospital"), _as(configured, OTHER)
        older = patient("Jonathan", "Smith", "1980-03-12", mrn="C-5", system="urn:mrn:city", phone="617-555-0101")
        a = _create(api, older, clinic)
        newer = patient("Jon", "Smith", "1980-03-12", mrn="77", phone="617-555-0202")
        newer["name"] = [{"family": "Smith", "given": ["Jon"]}]
        b = _create(api, newer, hospital)
        golden = _golden_of(api, a, hospital)
        assert _golden_of(api, b, hospital) == golden
        body = api.get(f"/fhir/Patient/{golden}", headers=hospital).json()
        provenance = field_provenance(body)
        assert body["name"] == [{"family": "Smith", "given": ["Jon"]}]  # default: most recent (b)
        assert provenance["name"] == {"source": f"Patient/{b}", "rule": "most-recent"}
        assert body["telecom"] == [{"system": "phone", "value": "617-555-0101"}]  # city-clinic is trusted
        assert provenance["telecom"] == {"source": f"Patient/{a}", "rule": "trusted-source"}
        assert provenance["birthDate"]["rule"] == "most-complete"
        summary = api.get(f"/api/patients/{golden}/summary", headers=hospital).json()
        assert summary["demographics"]["telecom"]["rule"] == "trusted-source"
