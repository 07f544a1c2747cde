"""FHIR search semantics over the SQL index tables, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from tests.integration.conftest import FHIR_JSON


def _post(api, resource: dict) -> dict:
    response = api.post(f"/fhir/{resource['resourceType']}", json=resource, headers=FHIR_JSON)
    assert response.status_code == 201, response.text
    return response.json()


def _ids(bundle: dict, mode: str = "match") -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == mode]


@pytest.fixture
def clinic(api) -> dict:
    """Three patients with observations; returns ids by name."""
    ids = {}
    people = [
        ("Zoë", "Ångström", "female", "1980-02-03", "urn:mrn", "A1", "Boston"),
        ("Zoe", "Angstrom", "female", "1975-06", "urn:mrn", "A2", "Bostonia"),
        ("Bob", "Baker", "male", "2001-12-24", "urn:other", "A1", "Springfield"),
    ]
    for given, family, gender, birth, system, value, city in people:
        ids[given] = _post(api, {"resourceType": "Patient", "name": [{"family": family, "given": [given]}],
                                 "gender": gender, "birthDate": birth, "address": [{"city": city}],
                                 "identifier": [{"system": system, "value": value}]})["id"]
    weight = [("Zoë", 60.5, "2020-01-10T10:00:00Z"), ("Zoë", 62.0, "2021-03-01T08:30:00Z"),
              ("Bob", 90.25, "2020-06-15T12:00:00Z")]
    for who, kg, when in weight:
        ids[f"{who}-{kg}"] = _post(api, {
            "resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]},
            "subject": {"reference": f"Patient/{ids[who]}"}, "effectiveDateTime": when,
            "valueQuantity": {"value": kg, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}})["id"]
    ids["bp"] = _post(api, {"resourceType": "Observation", "status": "amended",
                            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}],
                                     "text": "Blood pressure panel"},
                            "subject": {"reference": f"Patient/{ids['Bob']}"},
                            "effectivePeriod": {"start": "2019-05-01", "end": "2019-05-03"}})["id"]
    return ids


def search(api, resource_type: str, **params) -> dict:
    response = api.get(f"/fhir/{resource_type}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_string_search_is_prefix_case_and_accent_insensitive(api, clinic):
    assert sorted(_ids(search(api, "Patient", family="angst"))) == sorted([clinic["Zoë"], clinic["Zoe"]])
    assert _ids(search(api, "Patient", family="Ångström", **{"family:exact": "Ångström"})) == [clinic["Zoë"]]
    assert sorted(_ids(search(api, "Patient", **{"address-city:contains": "ost"}))) == sorted(
        [clinic["Zoë"], clinic["Zoe"]])
    assert _ids(search(api, "Patient", given="zoe", address="bostonia")) == [clinic["Zoe"]]


def test_token_search_with_and_without_system(api, clinic):
    assert sorted(_ids(search(api, "Patient", identifier="A1"))) == sorted([clinic["Zoë"], clinic["Bob"]])
    assert _ids(search(api, "Patient", identifier="urn:mrn|A1")) == [clinic["Zoë"]]
    assert search(api, "Patient", identifier="|A1")["total"] == 0
    assert search(api, "Patient", identifier="urn:mrn|")["total"] == 2
    assert _ids(search(api, "Patient", **{"gender:not": "female"})) == [clinic["Bob"]]
    assert _ids(search(api, "Observation", **{"code:text": "blood"})) == [clinic["bp"]]
    assert search(api, "Observation", code="http://loinc.org|29463-7,http://loinc.org|85354-9")["total"] == 4


def test_date_prefixes_and_partial_dates(api, clinic):
    assert _ids(search(api, "Patient", birthdate="1980")) == [clinic["Zoë"]]
    assert _ids(search(api, "Patient", birthdate="1975-06")) == [clinic["Zoe"]]
    assert search(api, "Patient", birthdate="1975")["total"] == 1
    assert search(api, "Patient", birthdate="1975-06-15")["total"] == 0  # month precision is not inside one day
    assert sorted(_ids(search(api, "Patient", birthdate="lt1990"))) == sorted([clinic["Zoë"], clinic["Zoe"]])
    assert _ids(search(api, "Patient", birthdate="ge2001-12-24")) == [clinic["Bob"]]
    assert _ids(search(api, "Patient", birthdate="gt2001-12-23")) == [clinic["Bob"]]
    assert search(api, "Patient", birthdate="ne1980-02-03")["total"] == 2
    both = search(api, "Observation", date=["ge2020-01-01", "lt2021-01-01"])
    assert sorted(_ids(both)) == sorted([clinic["Zoë-60.5"], clinic["Bob-90.25"]])
    assert _ids(search(api, "Observation", date="sa2021-01-01")) == [clinic["Zoë-62.0"]]
    assert _ids(search(api, "Observation", date="eb2020-01-01")) == [clinic["bp"]]
    assert _ids(search(api, "Observation", date="2019-05-02")) == []  # period is wider than the day
    assert _ids(search(api, "Observation", date="2019-05")) == [clinic["bp"]]


def test_quantity_search_with_prefixes_precision_and_units(api, clinic):
    assert _ids(search(api, "Observation", **{"value-quantity": "60.5"})) == [clinic["Zoë-60.5"]]
    assert _ids(search(api, "Observation", **{"value-quantity": "61"})) == [clinic["Zoë-60.5"]]  # [60.5, 61.5)
    assert _ids(search(api, "Observation", **{"value-quantity": "60.50"})) == [clinic["Zoë-60.5"]]
    assert _ids(search(api, "Observation", **{"value-quantity": "60.6"})) == []
    assert sorted(_ids(search(api, "Observation", **{"value-quantity": "6e1"}))) == sorted(
        [clinic["Zoë-60.5"], clinic["Zoë-62.0"]])  # [55, 65)
    heavy = search(api, "Observation", **{"value-quantity": "gt61|http://unitsofmeasure.org|kg"})
    assert sorted(_ids(heavy)) == sorted([clinic["Zoë-62.0"], clinic["Bob-90.25"]])
    assert search(api, "Observation", **{"value-quantity": "gt61||lb"})["total"] == 0
    assert _ids(search(api, "Observation", **{"value-quantity": "le60.5"})) == [clinic["Zoë-60.5"]]


def test_reference_search_forms_and_chaining(api, clinic):
    bob = clinic["Bob"]
    for params in ({"subject": f"Patient/{bob}"}, {"patient": bob}, {"subject:Patient": bob},
                   {"subject": f"http://testserver/fhir/Patient/{bob}"}):
        assert sorted(_ids(search(api, "Observation", **params))) == sorted([clinic["Bob-90.25"], clinic["bp"]]), params
    chained = search(api, "Observation", **{"subject:Patient.family": "angstrom"})
    assert sorted(_ids(chained)) == sorted([clinic["Zoë-60.5"], clinic["Zoë-62.0"]])
    assert search(api, "Observation", **{"patient.identifier": "urn:other|A1"})["total"] == 2


def test_missing_modifier(api, clinic):
    assert _ids(search(api, "Observation", **{"value-quantity:missing": "true"})) == [clinic["bp"]]
    assert search(api, "Observation", **{"value-quantity:missing": "false"})["total"] == 3


def test_id_and_last_updated(api, clinic):
    assert _ids(search(api, "Patient", _id=f"{clinic['Bob']},{clinic['Zoe']}")) != []
    assert search(api, "Patient", _id=f"{clinic['Bob']},{clinic['Zoe']}")["total"] == 2
    assert search(api, "Patient", _lastUpdated="gt2000-01-01")["total"] == 3
    assert search(api, "Patient", _lastUpdated="lt2000-01-01")["total"] == 0


def test_sort_ascending_and_descending(api, clinic):
    ascending = _ids(search(api, "Patient", _sort="birthdate"))
    assert ascending == [clinic["Zoe"], clinic["Zoë"], clinic["Bob"]]
    assert _ids(search(api, "Patient", _sort="-birthdate")) == ascending[::-1]
    dates = [e["resource"].get("effectiveDateTime") for e in search(api, "Observation", code="29463-7",
                                                                     _sort="-date")["entry"]]
    assert dates == sorted(dates, reverse=True)


def test_paging_links_cover_every_match_once(api, clinic):
    page = search(api, "Observation", _count=1, _sort="date")
    seen = _ids(page)
    assert page["total"] == 4
    assert not any(link["relation"] == "previous" for link in page["link"])
    while next_link := next((link["url"] for link in page["link"] if link["relation"] == "next"), None):
        page = api.get(next_link.replace("http://testserver", "")).json()
        assert any(link["relation"] == "previous" for link in page["link"])
        seen += _ids(page)
    assert len(seen) == len(set(seen)) == 4


def test_include_and_revinclude(api, clinic):
    bundle = search(api, "Observation", code="29463-7", _include="Observation:subject")
    assert sorted(_ids(bundle, "include")) == sorted([clinic["Zoë"], clinic["Bob"]])
    bundle = search(api, "Patient", _id=clinic["Bob"], _revinclude="Observation:subject")
    assert _ids(bundle) == [clinic["Bob"]]
    assert sorted(_ids(bundle, "include")) == sorted([clinic["Bob-90.25"], clinic["bp"]])


def test_summary_total_and_elements(api, clinic):
    counted = search(api, "Observation", _summary="count")
    assert counted["total"] == 4 and "entry" not in counted
    assert "total" not in search(api, "Observation", _total="none")
    trimmed = search(api, "Patient", _elements="gender", _id=clinic["Bob"])["entry"][0]["resource"]
    assert set(trimmed) == {"resourceType", "id", "meta", "gender"}
    assert any(tag.get("code") == "SUBSETTED" for tag in trimmed["meta"]["tag"])


def test_or_within_a_parameter_and_and_across_repeats(api, clinic):
    assert search(api, "Patient", given="zoe,bob")["total"] == 3
    assert search(api, "Patient", given=["zoe", "bob"])["total"] == 0


def test_unknown_parameters_are_reported_leniently_or_rejected_strictly(api, clinic):
    lenient = search(api, "Patient", shoe_size="44")
    outcome = [e for e in lenient["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome and "shoe_size" in outcome[0]["resource"]["issue"][0]["diagnostics"]
    assert lenient["total"] == 3
    strict = api.get("/fhir/Patient", params={"shoe_size": "44"}, headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400


def test_post_search_with_form_body(api, clinic):
    response = api.post("/fhir/Patient/_search", content="gender=male",
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    assert _ids(response.json()) == [clinic["Bob"]]


def test_deleted_and_superseded_versions_are_not_found(api, clinic):
    api.delete(f"/fhir/Patient/{clinic['Zoe']}")
    assert search(api, "Patient", family="angstrom")["total"] == 1
    bob = api.get(f"/fhir/Patient/{clinic['Bob']}").json()
    bob["name"] = [{"family": "Carter"}]
    api.put(f"/fhir/Patient/{clinic['Bob']}", json=bob, headers=FHIR_JSON)
    assert search(api, "Patient", family="baker")["total"] == 0
    assert _ids(search(api, "Patient", family="carter")) == [clinic["Bob"]]
