"""Every shared Synthea bundle through POST /fhir on the real server; searches checked against the files."""
from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.e2e import corpus as c
from tests.e2e.conftest import FHIR_JSON, ServerURL, included, link, matches, search, search_all

SAMPLE_PATIENTS = ["Ellis535_Will178", "Jeanmarie510_Heidenreich818", "Fidel_Bins", "Milan_Beatty",
                   "Gustavo_Mejia"]
CLINICAL_TYPES = ["Observation", "Condition", "Encounter", "Immunization", "MedicationRequest",
                  "DiagnosticReport", "Procedure", "AllergyIntolerance"]


@dataclass
class Loaded:
    """What the load answered, and the server ids of the Synthea patients."""

    server: ServerURL
    answers: list[tuple[c.BundleFile, int, Any]] = field(default_factory=list)
    patient_ids: dict[str, str] = field(default_factory=dict)

    def patient_id(self, patient: c.Entry) -> str:
        key = c.patient_key(patient)
        assert key in self.patient_ids, f"{patient.file}: the server does not find Patient identifier {key}"
        return self.patient_ids[key]


@pytest.fixture(scope="module")
def synthea(server: ServerURL, fhir: httpx.Client) -> Loaded:
    """Load every Synthea bundle once per backend; find each patient's server id by its Synthea identifier."""
    loaded = Loaded(server)
    for bundle in c.load_order():
        response = fhir.post(str(server), content=bundle.path.read_bytes(), headers=FHIR_JSON)
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        loaded.answers.append((bundle, response.status_code, body))
    for patient in c.patients():
        key = c.patient_key(patient)
        found = matches(search(fhir, "Patient", {"identifier": f"{c.SYNTHEA_SYSTEM}|{key}"}))
        if len(found) == 1:
            loaded.patient_ids[key] = found[0]["id"]
    return loaded


def sample_patient(prefix: str) -> c.Entry:
    found = [p for p in c.patients() if p.file.startswith(prefix)]
    assert len(found) == 1, prefix
    return found[0]


def total(client: httpx.Client, resource_type: str, params: Any) -> int:
    bundle = search(client, resource_type, params)
    assert "total" in bundle, f"{resource_type} {params}: no total in {bundle}"
    return bundle["total"]


def synthea_keys(resources: list[dict[str, Any]]) -> collections.Counter:
    return collections.Counter(c.identifier_value(r, c.SYNTHEA_SYSTEM) for r in resources)


# --------------------------------------------------------------------------- the load


def test_every_synthea_bundle_loads_with_every_entry_accepted(synthea: Loaded) -> None:
    assert len(synthea.answers) == len(list(c.synthea_folder().glob("*/*.json")))
    problems = []
    for bundle, status, body in synthea.answers:
        if status != 200 or not isinstance(body, dict):
            problems.append(f"{bundle.path.name}: HTTP {status}: {str(body)[:600]}")
            continue
        assert body.get("type") == f"{bundle.kind}-response", (bundle.path.name, body.get("type"))
        assert len(body.get("entry", [])) == len(bundle.entries), bundle.path.name
        for index, entry in enumerate(body["entry"]):
            answer = entry.get("response", {})
            if not str(answer.get("status", "")).startswith(("201", "200")):
                problems.append(f"{bundle.path.name} entry {index}: {answer}")
    assert not problems, "\n".join(problems[:30])


def test_transaction_responses_locate_each_entry_in_order(synthea: Loaded, fhir: httpx.Client) -> None:
    """The response's location of each Patient entry is the Patient the identifier search finds."""
    for bundle, status, body in synthea.answers:
        assert status == 200, bundle.path.name
        for entry, answer in zip(bundle.entries, body["entry"]):
            location = answer["response"].get("location", "")
            assert location.split("/")[0] == entry.type, (bundle.path.name, entry.index, location)
            if entry.type == "Patient":
                assert location.split("/")[1] == synthea.patient_id(entry), (bundle.path.name, location)


def test_resource_counts_by_type_match_the_bundles(synthea: Loaded, fhir: httpx.Client) -> None:
    expected: collections.Counter = collections.Counter()
    conditions = set()
    for entry in c.all_entries():
        condition = entry.request.get("ifNoneExist")
        if condition:
            if (entry.type, condition) in conditions:
                continue  # an earlier entry created it; this one finds it
            conditions.add((entry.type, condition))
        expected[entry.type] += 1
    assert sum(expected.values()) == c.expected_created_resources()
    actual = {t: total(fhir, t, {"_summary": "count"}) for t in expected}
    assert actual == dict(expected)


# --------------------------------------------------------------------------- Patient searches


def test_patient_total_matches_the_bundles(synthea: Loaded, fhir: httpx.Client) -> None:
    assert total(fhir, "Patient", {}) == len(c.patients())
    assert len(synthea.patient_ids) == len(c.patients())


@pytest.mark.parametrize("gender", ["male", "female"])
def test_patients_by_gender_match_the_bundles(synthea: Loaded, fhir: httpx.Client, gender: str) -> None:
    expected = synthea_keys([p.resource for p in c.patients() if p.resource.get("gender") == gender])
    found, _ = search_all(fhir, "Patient", {"gender": gender})
    assert synthea_keys(found) == expected
    assert total(fhir, "Patient", {"gender:not": gender}) == len(c.patients()) - sum(expected.values())


@pytest.mark.parametrize("values", [
    ["ge2000"], ["lt1970"], ["1986"], ["1986-11"], ["2016"], ["ge2014-11-26"], ["lt2014-11-26"],
    ["ge1980", "lt1990"], ["gt2016-07-27"], ["le1943-10-01"], ["ne1986"],
], ids=lambda v: "&".join(v))
def test_patients_by_birthdate_match_the_bundles(synthea: Loaded, fhir: httpx.Client, values: list[str]) -> None:
    expected = synthea_keys([p.resource for p in c.unambiguous_matches(c.patients(), c.birthdate_spans, values)])
    found, _ = search_all(fhir, "Patient", [("birthdate", v) for v in values])
    assert synthea_keys(found) == expected


@pytest.mark.parametrize(("parameter", "value"), [
    ("family", "Gerhold"), ("family", "gerh"), ("family", "mejia"), ("family", "HEIDEN"), ("family", "Bechtelar"),
    ("family:exact", "Mejía"), ("family:exact", "Mejia"), ("family:exact", "mejía"), ("family:exact", "Gerhold"),
    ("family:exact", "Gerhold939"),
])
def test_patients_by_family_match_the_bundles(synthea: Loaded, fhir: httpx.Client, parameter: str,
                                              value: str) -> None:
    modifier = parameter.partition(":")[2] or None
    expected = synthea_keys([p.resource for p in c.patients()
                             if c.string_matches([n.get("family") or "" for n in p.resource.get("name", [])],
                                                 value, modifier)])
    found, _ = search_all(fhir, "Patient", {parameter: value})
    assert synthea_keys(found) == expected


@pytest.mark.parametrize("value", ["eich", "mr.", "ía", "ER", "78", "xyz"])
def test_patients_by_name_contains_match_the_bundles(synthea: Loaded, fhir: httpx.Client, value: str) -> None:
    expected = synthea_keys([p.resource for p in c.patients()
                             if c.string_matches([part for n in p.resource.get("name", []) for part in c.name_parts(n)],
                                                 value, "contains")])
    found, _ = search_all(fhir, "Patient", {"name:contains": value})
    assert synthea_keys(found) == expected


@pytest.mark.parametrize(("parameter", "value"), [
    ("address-state", "MA"), ("address-state", "Massachusetts"), ("address-state", "massa"),
    ("address-state:exact", "MA"),
])
def test_patients_by_address_state_match_the_bundles(synthea: Loaded, fhir: httpx.Client, parameter: str,
                                                     value: str) -> None:
    modifier = parameter.partition(":")[2] or None
    expected = synthea_keys([p.resource for p in c.patients()
                             if c.string_matches([a.get("state") or "" for a in p.resource.get("address", [])],
                                                 value, modifier)])
    found, _ = search_all(fhir, "Patient", {parameter: value})
    assert synthea_keys(found) == expected


def test_patients_by_identifier_are_found_one_each(synthea: Loaded, fhir: httpx.Client) -> None:
    for prefix in SAMPLE_PATIENTS:
        patient = sample_patient(prefix)
        for identifier in patient.resource["identifier"]:
            found = matches(search(fhir, "Patient", {"identifier": f"{identifier['system']}|{identifier['value']}"}))
            assert [r["id"] for r in found] == [synthea.patient_id(patient)], (prefix, identifier)
            assert found[0]["name"] == patient.resource["name"]
            assert found[0]["birthDate"] == patient.resource["birthDate"]
    key = c.patient_key(sample_patient("Milan_Beatty"))
    assert total(fhir, "Patient", {"identifier": key}) == sum(  # without a system: any identifier with that value
        1 for p in c.patients() if any(i.get("value") == key for i in p.resource["identifier"]))
    assert total(fhir, "Patient", {"identifier": f"http://example.org/unknown|{key}"}) == 0


def test_patients_sorted_by_birthdate_are_in_order(synthea: Loaded, fhir: httpx.Client) -> None:
    found, _ = search_all(fhir, "Patient", {"_sort": "birthdate"})
    assert [p["birthDate"] for p in found] == sorted(p.resource["birthDate"] for p in c.patients())
    found, _ = search_all(fhir, "Patient", {"_sort": "-birthdate", "_count": "7"})
    assert [p["birthDate"] for p in found] == sorted((p.resource["birthDate"] for p in c.patients()), reverse=True)


# --------------------------------------------------------------------------- per patient


def _reference(resource: dict[str, Any], resource_type: str) -> str:
    return resource[c.PATIENT_ELEMENT[resource_type]]["reference"]


@pytest.mark.parametrize("prefix", SAMPLE_PATIENTS)
def test_per_patient_resource_counts_match_the_bundles(synthea: Loaded, fhir: httpx.Client, prefix: str) -> None:
    patient = sample_patient(prefix)
    patient_id = synthea.patient_id(patient)
    present = {e.type for e in c.all_entries()}
    counts, expected_counts = {}, {}
    for resource_type in CLINICAL_TYPES:
        if resource_type not in present:
            continue
        expected_counts[resource_type] = len(c.clinical_of(patient, resource_type))
        found, _ = search_all(fhir, resource_type, {"patient": patient_id, "_count": "40"})
        counts[resource_type] = len(found)
        assert {_reference(r, resource_type) for r in found} <= {f"Patient/{patient_id}"}, resource_type
        assert len({r["id"] for r in found}) == len(found), f"{resource_type}: duplicates across pages"
    assert counts == expected_counts
    by_subject, _ = search_all(fhir, "Observation", {"subject": f"Patient/{patient_id}", "_count": "1000"})
    assert len(by_subject) == expected_counts["Observation"]


@pytest.mark.parametrize("prefix", ["Milan_Beatty", "Fidel_Bins", "Gustavo_Mejia"])
def test_per_patient_observations_have_the_bundle_content(synthea: Loaded, fhir: httpx.Client, prefix: str) -> None:
    def fingerprint(r: dict[str, Any]) -> tuple:
        coding = r["code"]["coding"][0]
        return (coding["system"], coding["code"], c.instant(r["effectiveDateTime"]),
                r.get("valueQuantity", {}).get("value"), r.get("valueQuantity", {}).get("code"))

    patient = sample_patient(prefix)
    found, _ = search_all(fhir, "Observation", {"subject": f"Patient/{synthea.patient_id(patient)}", "_count": "1000"})
    expected = collections.Counter(fingerprint(e.resource) for e in c.clinical_of(patient, "Observation"))
    assert collections.Counter(fingerprint(r) for r in found) == expected


# --------------------------------------------------------------------------- Observation searches


def _observations() -> list[c.Entry]:
    return c.resources("Observation")


@pytest.mark.parametrize("code", ["8302-2", "29463-7", "72514-3", "39156-5", "55284-4", "8867-4"])
def test_observations_by_loinc_code_match_the_bundles(synthea: Loaded, fhir: httpx.Client, code: str) -> None:
    observations = _observations()
    expected = sum(1 for e in observations if c.token_matches(e.resource.get("code"), f"{c.LOINC}|{code}"))
    assert total(fhir, "Observation", {"code": f"{c.LOINC}|{code}"}) == expected
    assert total(fhir, "Observation", {"code": code}) == sum(
        1 for e in observations if c.token_matches(e.resource.get("code"), code))
    assert total(fhir, "Observation", {"code:not": f"{c.LOINC}|{code}"}) == len(observations) - expected
    assert total(fhir, "Observation", {"code": f"{c.SNOMED}|{code}"}) == sum(
        1 for e in observations if c.token_matches(e.resource.get("code"), f"{c.SNOMED}|{code}"))


def test_observations_by_code_or_list_and_system_only_match_the_bundles(synthea: Loaded,
                                                                         fhir: httpx.Client) -> None:
    observations = _observations()
    either = f"{c.LOINC}|8302-2,{c.LOINC}|29463-7"
    assert total(fhir, "Observation", {"code": either}) == sum(
        1 for e in observations if any(c.token_matches(e.resource["code"], v) for v in either.split(",")))
    assert total(fhir, "Observation", {"code": f"{c.LOINC}|"}) == sum(
        1 for e in observations if c.token_matches(e.resource["code"], f"{c.LOINC}|"))
    assert total(fhir, "Observation", {}) == len(observations)


@pytest.mark.parametrize("code", ["8480-6", "8462-4"])
def test_component_codes_match_component_code_but_not_code(synthea: Loaded, fhir: httpx.Client, code: str) -> None:
    observations = _observations()
    in_components = sum(1 for e in observations
                        if any(c.token_matches(part.get("code"), f"{c.LOINC}|{code}")
                               for part in e.resource.get("component", [])))
    assert in_components > 0
    assert total(fhir, "Observation", {"component-code": f"{c.LOINC}|{code}"}) == in_components
    assert total(fhir, "Observation", {"code": f"{c.LOINC}|{code}"}) == sum(
        1 for e in observations if c.token_matches(e.resource.get("code"), f"{c.LOINC}|{code}"))


@pytest.mark.parametrize(("code", "value"), [
    (None, f"gt80|{c.UCUM}|kg"), ("29463-7", f"lt20|{c.UCUM}|kg"), ("29463-7", f"ge100|{c.UCUM}|kg"),
    ("29463-7", f"le50.5|{c.UCUM}|kg"), ("8302-2", f"gt180|{c.UCUM}|cm"), ("8302-2", f"lt100|{c.UCUM}|cm"),
    ("39156-5", "gt30"), ("29463-7", f"gt80|{c.UCUM}|cm"),
])
def test_observations_by_value_quantity_match_the_bundles(synthea: Loaded, fhir: httpx.Client, code: str | None,
                                                          value: str) -> None:
    expected = sum(1 for e in _observations()
                   if (code is None or c.token_matches(e.resource["code"], f"{c.LOINC}|{code}"))
                   and c.quantity_matches(e.resource.get("valueQuantity"), value))
    params = {"value-quantity": value, **({"code": f"{c.LOINC}|{code}"} if code else {})}
    assert total(fhir, "Observation", params) == expected


@pytest.mark.parametrize(("code", "values"), [
    ("29463-7", ["ge2015-01-01", "lt2017-01-01"]), ("8302-2", ["2017"]), ("72514-3", ["2018"]),
    (None, ["ge2019-03"]), (None, ["lt1990"]), ("29463-7", ["gt2012", "le2014-06-30"]),
    ("72514-3", ["sa2018-12-31", "eb2019-04"]),
], ids=lambda v: "&".join(v) if isinstance(v, list) else str(v))
def test_observations_in_a_date_window_match_the_bundles(synthea: Loaded, fhir: httpx.Client, code: str | None,
                                                         values: list[str]) -> None:
    candidates = [e for e in _observations()
                  if code is None or c.token_matches(e.resource["code"], f"{c.LOINC}|{code}")]
    expected = len(c.unambiguous_matches(candidates, c.observation_spans, values))
    params = [("date", v) for v in values] + ([("code", f"{c.LOINC}|{code}")] if code else [])
    assert total(fhir, "Observation", params) == expected


def test_observations_sorted_by_descending_date_are_in_order(synthea: Loaded, fhir: httpx.Client) -> None:
    patient = sample_patient("Milan_Beatty")
    expected = sorted((c.instant(e.resource["effectiveDateTime"]) for e in c.clinical_of(patient, "Observation")),
                      reverse=True)
    assert len(expected) > 50
    params = {"subject": f"Patient/{synthea.patient_id(patient)}", "_sort": "-date"}
    first_page = matches(search(fhir, "Observation", params))
    assert [c.instant(r["effectiveDateTime"]) for r in first_page] == expected[:len(first_page)]
    everything, _ = search_all(fhir, "Observation", {**params, "_count": "30"})
    dates = [c.instant(r["effectiveDateTime"]) for r in everything]
    assert len({r["id"] for r in everything}) == len(everything), "an Observation is on two pages"
    assert all(a >= b for a, b in zip(dates, dates[1:])), "dates increase somewhere"
    assert dates == expected
    ascending, _ = search_all(fhir, "Observation", {"code": f"{c.LOINC}|29463-7", "_sort": "date", "_count": "1000"})
    dates = [c.instant(r["effectiveDateTime"]) for r in ascending]
    assert dates == sorted(c.instant(e.resource["effectiveDateTime"]) for e in _observations()
                           if c.token_matches(e.resource["code"], f"{c.LOINC}|29463-7"))


@pytest.mark.parametrize(("code", "count"), [("72514-3", 17), ("8302-2", 50), (None, 250)])
def test_paging_with_count_returns_every_match_exactly_once(synthea: Loaded, fhir: httpx.Client, code: str | None,
                                                            count: int) -> None:
    candidates = [e for e in _observations()
                  if code is None or c.token_matches(e.resource["code"], f"{c.LOINC}|{code}")]
    params = {"_count": str(count), **({"code": f"{c.LOINC}|{code}"} if code else {})}
    found, pages = search_all(fhir, "Observation", params)
    ids = [r["id"] for r in found]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} resources on more than one page"
    assert len(ids) == len(candidates) == pages[0]["total"]
    assert len(pages) == -(-len(candidates) // count)
    assert all(len(matches(p)) == count for p in pages[:-1]) and 0 < len(matches(pages[-1])) <= count
    assert link(pages[0], "previous") is None and all(link(p, "previous") for p in pages[1:])


# --------------------------------------------------------------------------- other clinical types


@pytest.mark.parametrize("value", [f"{c.SNOMED}|444814009", f"{c.SNOMED}|195662009", "10509002",
                                   f"{c.SNOMED}|444814009,{c.SNOMED}|162864005"])
def test_conditions_by_snomed_code_match_the_bundles(synthea: Loaded, fhir: httpx.Client, value: str) -> None:
    expected = sum(1 for e in c.resources("Condition")
                   if any(c.token_matches(e.resource.get("code"), v) for v in value.split(",")))
    assert expected > 0
    assert total(fhir, "Condition", {"code": value}) == expected


@pytest.mark.parametrize("value", [f"{c.CVX}|140", "08", f"{c.CVX}|133,{c.CVX}|20"])
def test_immunizations_by_vaccine_code_match_the_bundles(synthea: Loaded, fhir: httpx.Client, value: str) -> None:
    expected = sum(1 for e in c.resources("Immunization")
                   if any(c.token_matches(e.resource.get("vaccineCode"), v) for v in value.split(",")))
    assert expected > 0
    assert total(fhir, "Immunization", {"vaccine-code": value}) == expected


@pytest.mark.parametrize("values", [["ge2018-02-01", "lt2018-12-01"], ["ge2017-03-01", "lt2018-03-01"], ["2016"],
                                    ["2020-03"], ["lt1980"],
                                    ["gt2019-06-15"]], ids=lambda v: "&".join(v))
def test_encounters_by_date_match_the_bundles(synthea: Loaded, fhir: httpx.Client, values: list[str]) -> None:
    expected = len(c.unambiguous_matches(c.resources("Encounter"), c.encounter_spans, values))
    assert total(fhir, "Encounter", [("date", v) for v in values]) == expected


# --------------------------------------------------------------------------- chaining and includes


@pytest.mark.parametrize("family", ["Gerhold", "Bechtelar", "mejia", "Beatty"])
def test_chained_subject_family_matches_the_bundles(synthea: Loaded, fhir: httpx.Client, family: str) -> None:
    expected = sum(1 for e in _observations()
                   if (owner := c.patient_of(e)) is not None
                   and c.string_matches([n.get("family") or "" for n in owner.resource.get("name", [])], family))
    assert expected > 0
    assert total(fhir, "Observation", {"subject:Patient.family": family}) == expected


@pytest.mark.parametrize("prefix", ["Milan_Beatty", "Fidel_Bins", "Ellis535_Will178"])
def test_chained_patient_identifier_matches_the_bundles(synthea: Loaded, fhir: httpx.Client, prefix: str) -> None:
    patient = sample_patient(prefix)
    identifier = f"{c.SYNTHEA_SYSTEM}|{c.patient_key(patient)}"
    for resource_type in ("Observation", "Encounter", "Immunization"):
        expected = len(c.clinical_of(patient, resource_type))
        assert total(fhir, resource_type, {"patient.identifier": identifier}) == expected, resource_type


def test_include_of_observation_subject_returns_the_patients(synthea: Loaded, fhir: httpx.Client) -> None:
    code = f"{c.LOINC}|29463-7"
    weighed = [e for e in _observations() if c.token_matches(e.resource["code"], code)]
    bundle = search(fhir, "Observation", {"code": code, "_include": "Observation:subject", "_count": "1000"})
    assert len(matches(bundle)) == bundle["total"] == len(weighed)
    patients = included(bundle)
    assert {r["resourceType"] for r in patients} == {"Patient"}
    assert synthea_keys(patients) == collections.Counter({c.patient_key(c.patient_of(o)) for o in weighed})
    subjects = {r["subject"]["reference"] for r in matches(bundle)}
    assert subjects == {f"Patient/{r['id']}" for r in patients}


def test_revinclude_of_observations_returns_each_patients_observations(synthea: Loaded,
                                                                       fhir: httpx.Client) -> None:
    for prefix in ("Milan_Beatty", "Gustavo_Mejia", "Ilda728_Gerhold939"):
        patient = sample_patient(prefix)
        bundle = search(fhir, "Patient", {"identifier": f"{c.SYNTHEA_SYSTEM}|{c.patient_key(patient)}",
                                          "_revinclude": "Observation:subject"})
        assert [r["id"] for r in matches(bundle)] == [synthea.patient_id(patient)]
        extra = included(bundle)
        assert len(extra) == len(c.clinical_of(patient, "Observation")), prefix
        subject = f"Patient/{synthea.patient_id(patient)}"
        assert all(r["resourceType"] == "Observation" and r["subject"]["reference"] == subject for r in extra)


def test_summary_count_total_none_and_elements_shape_the_bundle(synthea: Loaded, fhir: httpx.Client) -> None:
    code = f"{c.LOINC}|8302-2"
    expected = sum(1 for e in _observations() if c.token_matches(e.resource["code"], code))
    counted = search(fhir, "Observation", {"code": code, "_summary": "count"})
    assert counted["total"] == expected and not counted.get("entry")
    untotalled = search(fhir, "Patient", {"_total": "none", "_count": "10"})
    assert "total" not in untotalled and len(matches(untotalled)) == 10
    assert link(untotalled, "next"), "a page without a total still links to the next page"
    slim = matches(search(fhir, "Observation", {"code": code, "_elements": "id,code", "_count": "5"}))
    assert len(slim) == 5
    for resource in slim:
        # the requested elements plus the mandatory ones (Observation.status), as R4 asks servers to keep
        assert set(resource) <= {"resourceType", "id", "meta", "code", "status"} and "code" in resource, resource
        assert "subject" not in resource and "valueQuantity" not in resource, resource
        assert any(tag.get("code") == "SUBSETTED" for tag in resource.get("meta", {}).get("tag", [])), resource


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

    Every resource of the load has one version; the server may hold more (its own AuditEvents), so the
    loaded resources are checked by type and id, and paging by disjointness.
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
    loaded = [v for v in everything if v[0] != "AuditEvent"]
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
