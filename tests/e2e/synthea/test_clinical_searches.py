"""Clinical searches, chaining, includes, conditional references and history agree with the bundles."""
from __future__ import annotations

import collections

import httpx
import pytest

from tests.e2e import corpus as c
from tests.e2e.conftest import included, link, matches, search, search_all
from tests.e2e.synthea.conftest import (Loaded, sample_patient, synthea_keys,
                                        total)


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
