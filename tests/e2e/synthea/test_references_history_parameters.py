"""Conditional references, history and more search parameters per type agree with the bundles."""
from __future__ import annotations

import collections
from typing import Any

import httpx
import pytest

from tests.e2e import corpus as c
from tests.e2e.conftest import included, link, matches, search, search_all
from tests.e2e.synthea.conftest import (SAMPLE_PATIENTS, Loaded, sample_patient, synthea_keys,
                                        total)


def _observations() -> list[c.Entry]:
    return c.resources("Observation")


# --------------------------------------------------------------------------- conditional references


def test_encounter_conditional_references_resolve_to_the_named_resources(synthea: Loaded,
                                                                         fhir: httpx.Client) -> None:
    """2021 Encounters name Practitioner/Location/Organization by identifier; the stored references resolve to them."""
    cache: dict[str, dict[str, Any]] = {}

    def get(reference: str) -> dict[str, Any]:
        if reference not in cache:
            response = fhir.get(reference)
            assert response.status_code == 200, f"GET {reference}: {response.status_code} {response.text[:300]}"
            cache[reference] = response.json()
        return cache[reference]

    def check(original: str, stored: str) -> None:
        target_type, _, query = original.partition("?")
        name, _, token = query.partition("=")
        system, _, value = token.partition("|")
        assert name == "identifier", original
        assert stored.startswith(f"{target_type}/") and "?" not in stored, (original, stored)
        assert c.identifier_value(get(stored), system) == value, (original, stored)

    checked = encounters = 0
    for patient in [p for p in c.patients() if p.folder == "fhir-data-pipes-2021"]:
        found, _ = search_all(fhir, "Encounter", {"patient": synthea.patient_id(patient), "_count": "100"})
        by_key = {c.identifier_value(r, c.SYNTHEA_SYSTEM): r for r in found}
        originals = c.clinical_of(patient, "Encounter")
        assert len(by_key) == len(originals) == len(found)
        encounters += len(originals)
        for original in originals:
            stored = by_key[c.identifier_value(original.resource, c.SYNTHEA_SYSTEM)]
            pairs = [(o["individual"]["reference"], s["individual"]["reference"])
                     for o, s in zip(original.resource["participant"], stored["participant"])]
            pairs += [(o["location"]["reference"], s["location"]["reference"])
                      for o, s in zip(original.resource["location"], stored["location"])]
            pairs.append((original.resource["serviceProvider"]["reference"], stored["serviceProvider"]["reference"]))
            assert pairs and all("?identifier=" in o for o, _ in pairs)
            for original_reference, stored_reference in pairs:
                check(original_reference, stored_reference)
                checked += 1
    assert encounters > 0 and checked >= 3 * encounters  # a participant, a location and a service provider each
    practitioners = [r for r in cache.values() if r["resourceType"] == "Practitioner"]
    assert practitioners and all(c.identifier_value(p, c.NPI_SYSTEM) for p in practitioners)


def test_conditionally_created_practitioners_exist_once_per_npi(synthea: Loaded, fhir: httpx.Client) -> None:
    batch = next(b for b in c.load_order() if b.path.name.startswith("practitionerInformation"))
    npis = [c.identifier_value(e.resource, c.NPI_SYSTEM) for e in batch.entries if e.type == "Practitioner"]
    for npi in npis[:12]:
        assert total(fhir, "Practitioner", {"identifier": f"{c.NPI_SYSTEM}|{npi}"}) == 1, npi


# --------------------------------------------------------------------------- history


def test_patient_history_has_one_version(synthea: Loaded, fhir: httpx.Client) -> None:
    for prefix in SAMPLE_PATIENTS:
        patient_id = synthea.patient_id(sample_patient(prefix))
        response = fhir.get(f"Patient/{patient_id}/_history")
        assert response.status_code == 200, response.text[:300]
        history = response.json()
        assert history["type"] == "history" and history["total"] == 1
        assert len(history["entry"]) == 1
        entry = history["entry"][0]
        assert entry["resource"]["id"] == patient_id and entry["resource"]["meta"]["versionId"] == "1"
        assert entry["request"]["method"] == "POST" and entry["response"]["status"].startswith("201")


def _history_pages(fhir: httpx.Client, first: str, limit: int = 1000) -> list[dict[str, Any]]:
    pages, following = [], first
    while following and len(pages) < limit:
        response = fhir.get(following)
        assert response.status_code == 200, f"GET {following}: {response.status_code} {response.text[:300]}"
        pages.append(response.json())
        following = link(pages[-1], "next")
    return pages


def _versions(pages: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["resource"]["resourceType"], e["resource"]["id"], e["resource"]["meta"]["versionId"])
            for page in pages for e in page.get("entry", []) if "resource" in e]


def test_type_history_pages_add_up_to_the_bundles(synthea: Loaded, fhir: httpx.Client) -> None:
    expected = len(_observations())
    pages = _history_pages(fhir, "Observation/_history?_count=500")
    versions = _versions(pages)
    assert pages[0]["type"] == "history" and pages[0]["total"] == expected
    assert len(pages) == -(-expected // 500)
    assert len(versions) == len(set(versions)) == expected


def test_system_history_pages_by_count(synthea: Loaded, fhir: httpx.Client) -> None:
    """`_history?_count=10` pages newest first; following `next` neither repeats nor skips a version.

    Every resource of the load has one version; the server may hold more (its own AuditEvents and golden-record
    Patients), so the loaded resources are checked by type and id, and paging by disjointness.
    """
    created = c.expected_created_resources()
    first_pages = _history_pages(fhir, "_history?_count=10", limit=4)
    assert first_pages[0]["type"] == "history" and first_pages[0]["total"] >= created
    assert [len(p["entry"]) for p in first_pages] == [10, 10, 10, 10]
    stamps = [c.instant(e["response"]["lastModified"]) for p in first_pages for e in p["entry"]]
    assert all(a >= b for a, b in zip(stamps, stamps[1:])), "history is not newest first"
    versions = _versions(first_pages)
    repeated = sorted({v for v in versions if versions.count(v) > 1})
    assert not repeated, f"following next links repeated {len(repeated)} versions: {repeated[:5]}"
    everything = _versions(_history_pages(fhir, "_history?_count=1000"))
    golden = {("Patient", e["resource"]["id"]) for page in _history_pages(
        fhir, "Patient?_tag=urn:tessera:mdm|GOLDEN_RECORD&_count=1000") for e in page.get("entry", [])}
    loaded = [v for v in everything if v[0] != "AuditEvent" and v[:2] not in golden]
    assert len(set(loaded)) == created, "the loaded resources are not all in the system history"
    assert len(loaded) == created, f"{len(loaded) - len(set(loaded))} loaded versions on two history pages"


# --------------------------------------------------------------------------- more parameters per type

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def _token_element_matches(value: Any, search: str) -> bool:
    """A token search against a code, Coding, CodeableConcept or a list of them."""
    if isinstance(value, list):
        return any(_token_element_matches(v, search) for v in value)
    if isinstance(value, str):
        return "|" not in search and value == search
    if isinstance(value, dict):
        return c.token_matches(value if "coding" in value else {"coding": [value]}, search)
    return False


@pytest.mark.parametrize(("resource_type", "parameter", "value", "element"), [
    ("MedicationRequest", "code", f"{RXNORM}|313782", "medicationCodeableConcept"),
    ("MedicationRequest", "status", "stopped", "status"),
    ("Encounter", "class", "AMB", "class"),
    ("Encounter", "class", f"{ACT_CODE}|EMER", "class"),
    ("Encounter", "type", f"{c.SNOMED}|185349003", "type"),
    ("DiagnosticReport", "category", "LAB", "category"),
    ("DiagnosticReport", "code", f"{c.LOINC}|34117-2", "code"),
    ("Observation", "category", "vital-signs", "category"),
    ("Observation", "category", f"{OBSERVATION_CATEGORY}|laboratory", "category"),
    ("Observation", "value-concept", f"{c.SNOMED}|266919005", "valueCodeableConcept"),
    ("Condition", "clinical-status", "resolved", "clinicalStatus"),
    ("Condition", "clinical-status", "active", "clinicalStatus"),
    ("AllergyIntolerance", "code", f"{c.SNOMED}|419474003", "code"),
])
def test_token_searches_on_other_elements_match_the_bundles(synthea: Loaded, fhir: httpx.Client, resource_type: str,
                                                           parameter: str, value: str, element: str) -> None:
    expected = sum(1 for e in c.resources(resource_type) if _token_element_matches(e.resource.get(element), value))
    assert total(fhir, resource_type, {parameter: value}) == expected


@pytest.mark.parametrize(("resource_type", "parameter", "values", "element"), [
    ("Immunization", "date", ["ge2018-02-01", "lt2018-12-01"], "occurrence"),
    ("Procedure", "date", ["2015"], "performed"),
    ("Procedure", "date", ["ge2019-03-01"], "performed"),
    ("Condition", "onset-date", ["lt2000"], "onset"),
    ("Condition", "abatement-date", ["ge2017-06-01"], "abatement"),
    ("MedicationRequest", "authoredon", ["ge2015-06-01", "lt2019-06-01"], "authoredOn"),
    ("DiagnosticReport", "date", ["2019"], "effective"),
    ("Patient", "death-date", ["lt1980"], "deceased"),
], ids=lambda v: "&".join(v) if isinstance(v, list) else str(v))
def test_date_searches_on_other_elements_match_the_bundles(synthea: Loaded, fhir: httpx.Client, resource_type: str,
                                                          parameter: str, values: list[str], element: str) -> None:
    expected = c.unambiguous_matches(c.resources(resource_type), c.spans_of(element), values)
    assert total(fhir, resource_type, [(parameter, v) for v in values]) == len(expected)


@pytest.mark.parametrize(("code", "value"), [("29463-7", f"70|{c.UCUM}|kg"), ("29463-7", f"eq7|{c.UCUM}|kg"),
                                             ("29463-7", f"70.0|{c.UCUM}|kg"), (None, "3"), ("72514-3", "ne3")])
def test_observations_by_value_quantity_with_implicit_precision_match_the_bundles(
        synthea: Loaded, fhir: httpx.Client, code: str | None, value: str) -> None:
    expected = sum(1 for e in _observations()
                   if (code is None or c.token_matches(e.resource["code"], f"{c.LOINC}|{code}"))
                   and c.quantity_matches(e.resource.get("valueQuantity"), value))
    params = {"value-quantity": value, **({"code": f"{c.LOINC}|{code}"} if code else {})}
    assert total(fhir, "Observation", params) == expected


@pytest.mark.parametrize(("parameter", "value", "parts"), [
    ("given", "Eugenia", lambda n: n.get("given") or []), ("given", "jo", lambda n: n.get("given") or []),
    ("name", "mr", c.name_parts), ("name", "kri", c.name_parts),
])
def test_patient_name_parts_match_the_bundles(synthea: Loaded, fhir: httpx.Client, parameter: str, value: str,
                                              parts: Any) -> None:
    expected = synthea_keys([p.resource for p in c.patients()
                             if c.string_matches([x for n in p.resource.get("name", []) for x in parts(n)], value)])
    found, _ = search_all(fhir, "Patient", {parameter: value})
    assert synthea_keys(found) == expected


def test_patient_address_telecom_and_deceased_match_the_bundles(synthea: Loaded, fhir: httpx.Client) -> None:
    everyone = c.patients()
    for city in ("boston", "Burl"):
        expected = synthea_keys([p.resource for p in everyone
                                 if c.string_matches([a.get("city") or "" for a in p.resource.get("address", [])],
                                                     city)])
        assert synthea_keys(search_all(fhir, "Patient", {"address-city": city})[0]) == expected, city
    sample = sample_patient("Fidel_Bins").resource
    phone = sample["telecom"][0]["value"]
    expected = synthea_keys([p.resource for p in everyone
                             if any(t.get("system") == "phone" and t.get("value") == phone
                                    for t in p.resource.get("telecom", []))])
    assert synthea_keys(search_all(fhir, "Patient", {"phone": phone})[0]) == expected
    postal = sample["address"][0].get("postalCode")
    if postal:
        expected = synthea_keys([p.resource for p in everyone
                                 if c.string_matches([a.get("postalCode") or "" for a in p.resource.get("address", [])],
                                                     postal)])
        assert synthea_keys(search_all(fhir, "Patient", {"address-postalcode": postal})[0]) == expected
    dead = synthea_keys([p.resource for p in everyone if p.resource.get("deceasedDateTime")
                         or p.resource.get("deceasedBoolean") is True])
    assert sum(dead.values()) > 0
    assert synthea_keys(search_all(fhir, "Patient", {"deceased": "true"})[0]) == dead


def test_reference_searches_by_id_type_and_list_match_the_bundles(synthea: Loaded, fhir: httpx.Client) -> None:
    patient = sample_patient("Gustavo_Mejia")
    patient_id = synthea.patient_id(patient)
    expected = len(c.clinical_of(patient, "Observation"))
    assert total(fhir, "Observation", {"subject": patient_id}) == expected
    assert total(fhir, "Observation", {"subject:Patient": patient_id}) == expected
    assert total(fhir, "Observation", {"subject:Device": patient_id}) == 0
    other = sample_patient("Fidel_Bins")
    both = f"Patient/{patient_id},Patient/{synthea.patient_id(other)}"
    assert total(fhir, "Observation", {"subject": both}) == expected + len(c.clinical_of(other, "Observation"))
    ids = [patient_id, synthea.patient_id(other)]
    assert sorted(r["id"] for r in matches(search(fhir, "Patient", {"_id": ",".join(ids)}))) == sorted(ids)
    assert total(fhir, "Patient", {"_lastUpdated": "lt2000-01-01"}) == 0
    assert total(fhir, "Patient", {"_lastUpdated": "ge2000-01-01"}) == len(c.patients())


def test_diagnostic_reports_by_encounter_match_the_bundles(synthea: Loaded, fhir: httpx.Client) -> None:
    patient = sample_patient("Ellis535_Will178")
    encounters, _ = search_all(fhir, "Encounter", {"patient": synthea.patient_id(patient), "_count": "100"})
    by_key = {c.identifier_value(r, c.SYNTHEA_SYSTEM): r["id"] for r in encounters}
    reports = c.clinical_of(patient, "DiagnosticReport")
    checked = 0
    for original in c.clinical_of(patient, "Encounter")[:6]:
        expected = sum(1 for r in reports if r.resource.get("encounter", {}).get("reference") == original.full_url)
        server_id = by_key[c.identifier_value(original.resource, c.SYNTHEA_SYSTEM)]
        assert total(fhir, "DiagnosticReport", {"encounter": f"Encounter/{server_id}"}) == expected
        checked += expected
    assert checked > 0


def test_chained_participant_identifier_matches_the_conditional_references(synthea: Loaded,
                                                                         fhir: httpx.Client) -> None:
    """Encounter?participant:Practitioner.identifier=npi finds the 2021 Encounters that named that NPI."""
    named: collections.Counter = collections.Counter()
    for encounter in c.resources("Encounter"):
        for participant in encounter.resource.get("participant", []):
            reference = participant.get("individual", {}).get("reference", "")
            if reference.startswith(f"Practitioner?identifier={c.NPI_SYSTEM}|"):
                named[reference.rpartition("|")[2]] += 1
    assert named
    for npi, expected in named.most_common(4):
        params = {"participant:Practitioner.identifier": f"{c.NPI_SYSTEM}|{npi}"}
        assert total(fhir, "Encounter", params) == expected, npi


# --------------------------------------------------------------------------- :missing and _summary

@pytest.mark.parametrize(("resource_type", "parameter", "missing", "present"), [
    ("Observation", "value-quantity", "true", lambda r: "valueQuantity" in r),
    ("Observation", "value-quantity", "false", lambda r: "valueQuantity" in r),
    ("Observation", "value-concept", "false", lambda r: "valueCodeableConcept" in r),
    ("Observation", "component-code", "false", lambda r: any("code" in p for p in r.get("component", []))),
    ("Condition", "abatement-date", "true", lambda r: any(k.startswith("abatement") for k in r)),
    ("Encounter", "participant", "true", lambda r: any(p.get("individual") for p in r.get("participant", []))),
    ("Patient", "death-date", "false", lambda r: "deceasedDateTime" in r),
    ("Patient", "_id", "false", lambda r: True),
])
def test_missing_modifier_matches_the_bundles(synthea: Loaded, fhir: httpx.Client, resource_type: str,
                                              parameter: str, missing: str, present: Any) -> None:
    expected = sum(1 for e in c.resources(resource_type) if present(e.resource) != (missing == "true"))
    assert total(fhir, resource_type, {f"{parameter}:missing": missing}) == expected


# R4 patient.html: the elements marked Σ (isSummary), with Resource.id / meta / implicitRules.
PATIENT_SUMMARY_ELEMENTS = {"resourceType", "id", "meta", "implicitRules", "identifier", "active", "name", "telecom",
                            "gender", "birthDate", "deceasedBoolean", "deceasedDateTime", "address",
                            "managingOrganization", "link"}
# R4 observation.html: the top-level elements with a minimum cardinality of 1.
OBSERVATION_MANDATORY_ELEMENTS = {"status", "code"}


def test_summary_true_returns_only_summary_elements(synthea: Loaded, fhir: httpx.Client) -> None:
    """FHIR R4 search: `_summary=true` returns the elements marked as summary in the base definition."""
    found = matches(search(fhir, "Patient", {"_summary": "true", "_count": "100"}))
    assert len(found) == len(c.patients())
    originals = {c.patient_key(p): p.resource for p in c.patients()}
    for resource in found:
        original = originals[c.identifier_value(resource, c.SYNTHEA_SYSTEM)]
        extra = sorted(set(resource) - PATIENT_SUMMARY_ELEMENTS)
        assert not extra, f"non-summary elements returned with _summary=true: {extra}"
        for element in PATIENT_SUMMARY_ELEMENTS & set(original) - {"meta", "id"}:
            assert resource.get(element) == original[element], element
        assert any(t.get("code") == "SUBSETTED" for t in resource["meta"].get("tag", []))


def test_summary_text_keeps_text_id_meta_and_mandatory_elements(synthea: Loaded, fhir: httpx.Client) -> None:
    """FHIR R4 search: `_summary=text` returns text, id, meta and the top-level mandatory elements."""
    patients = matches(search(fhir, "Patient", {"_summary": "text", "_count": "5"}))
    assert patients and all(set(r) <= {"resourceType", "id", "meta", "text"} and "text" in r for r in patients)
    code = f"{c.LOINC}|8302-2"
    observations = matches(search(fhir, "Observation", {"code": code, "_summary": "text", "_count": "5"}))
    assert len(observations) == 5
    for resource in observations:
        allowed = {"resourceType", "id", "meta", "text"} | OBSERVATION_MANDATORY_ELEMENTS
        assert set(resource) <= allowed, sorted(resource)
        missing = sorted(OBSERVATION_MANDATORY_ELEMENTS - set(resource))
        assert not missing, f"mandatory elements dropped by _summary=text: {missing} in {resource}"


# --------------------------------------------------------------------------- iterate, POST _search, ties


def test_revinclude_iterate_follows_included_observations_to_their_reports(synthea: Loaded,
                                                                           fhir: httpx.Client) -> None:
    patient = sample_patient("Milan_Beatty")
    observations = c.clinical_of(patient, "Observation")
    urls = {o.full_url for o in observations}
    reports = [d for d in c.clinical_of(patient, "DiagnosticReport")
               if any(r.get("reference") in urls for r in d.resource.get("result", []))]
    assert reports
    bundle = search(fhir, "Patient", [("identifier", f"{c.SYNTHEA_SYSTEM}|{c.patient_key(patient)}"),
                                      ("_revinclude", "Observation:subject"),
                                      ("_revinclude:iterate", "DiagnosticReport:result")])
    assert collections.Counter(r["resourceType"] for r in included(bundle)) == {
        "Observation": len(observations), "DiagnosticReport": len(reports)}


def test_include_iterate_follows_included_encounters_to_their_organizations(synthea: Loaded,
                                                                            fhir: httpx.Client) -> None:
    patient = sample_patient("Milan_Beatty")
    code = f"{c.LOINC}|29463-7"
    weights = [o for o in c.clinical_of(patient, "Observation") if c.token_matches(o.resource["code"], code)]
    by_url = {e.full_url: e for e in c.all_entries() if e.file == patient.file}
    encounters = {o.resource["encounter"]["reference"] for o in weights}
    organizations = {by_url[u].resource["serviceProvider"]["reference"] for u in encounters}
    assert weights and encounters and organizations
    bundle = search(fhir, "Observation", [("subject", f"Patient/{synthea.patient_id(patient)}"), ("code", code),
                                          ("_include", "Observation:encounter"),
                                          ("_include:iterate", "Encounter:service-provider")])
    assert len(matches(bundle)) == len(weights)
    assert collections.Counter(r["resourceType"] for r in included(bundle)) == {
        "Encounter": len(encounters), "Organization": len(organizations)}


def test_search_by_post_matches_the_bundles(synthea: Loaded, fhir: httpx.Client) -> None:
    expected = synthea_keys([p.resource for p in c.patients()
                             if c.string_matches([n.get("family") or "" for n in p.resource["name"]], "gerhold")
                             and p.resource.get("gender") == "female"])
    response = fhir.post("Patient/_search", content="family=gerhold&gender=female",
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200, response.text[:500]
    assert synthea_keys(matches(response.json())) == expected and sum(expected.values()) == 2


@pytest.mark.parametrize("sort", ["date", "-date", "status", "-_lastUpdated", None])
def test_sorted_paging_with_ties_returns_every_match_once(synthea: Loaded, fhir: httpx.Client,
                                                          sort: str | None) -> None:
    """Many Observations share a date, a status, a lastUpdated: pages must still neither repeat nor skip."""
    params = {"_count": "100", **({"_sort": sort} if sort else {})}
    found, pages = search_all(fhir, "Observation", params)
    ids = [r["id"] for r in found]
    assert len(ids) == len(_observations()) == pages[0]["total"]
    assert len(set(ids)) == len(ids), f"{len(ids) - len(set(ids))} repeated across pages"
