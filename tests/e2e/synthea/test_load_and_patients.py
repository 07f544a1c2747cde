"""Every Synthea bundle loads; patient searches, per-patient counts agree with the bundles."""
from __future__ import annotations

import collections
from typing import Any

import httpx
import pytest

from tests.e2e import corpus as c
from tests.e2e.conftest import matches, search, search_all
from tests.e2e.synthea.conftest import (CLINICAL_TYPES, SAMPLE_PATIENTS, Loaded, sample_patient, synthea_keys,
                                        total)


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
