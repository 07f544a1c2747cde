"""Searchset Bundles over the in-memory store: matches, paging links, includes, subsets and warnings."""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from engine.errors import UnknownResourceType, UnsupportedSearchParameter
from engine.services.presentation import SUBSETTED
from tests.unit.conftest import BASE


def put(resources, resource: dict[str, Any]) -> None:
    resources.update(resource["resourceType"], resource["id"], resource)


def patient(resource_id: str, **elements: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": resource_id, **elements}


def observation(resource_id: str, subject: str, **elements: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": resource_id, "status": "final", "code": {"text": "x"},
            "subject": {"reference": subject}, **elements}


def matches(bundle: dict[str, Any], mode: str = "match") -> list[str]:
    return [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle.get("entry", [])
            if e["search"]["mode"] == mode]


def links(bundle: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Each link relation's query parameters."""
    return {link["relation"]: parse_qsl(urlsplit(link["url"]).query) for link in bundle["link"]}


@pytest.fixture
def five_patients(resources):
    for index in range(5):
        put(resources, patient(f"p{index}", gender="female" if index % 2 else "male", birthDate=f"198{index}"))


def test_a_searchset_lists_matches_with_full_urls_and_the_total(search, five_patients):
    bundle = search.search("Patient", [("gender", "male")], base_url=BASE)
    assert (bundle["resourceType"], bundle["type"], bundle["total"]) == ("Bundle", "searchset", 3)
    assert matches(bundle) == ["Patient/p0", "Patient/p2", "Patient/p4"]
    assert bundle["entry"][0]["fullUrl"] == f"{BASE}/Patient/p0"


def test_the_self_link_repeats_the_search_with_count(search, five_patients):
    bundle = search.search("Patient", [("gender", "male"), ("_sort", "-birthdate")], base_url=BASE)
    assert links(bundle) == {"self": [("gender", "male"), ("_sort", "-birthdate"), ("_count", "10")]}


def test_paging_links_move_by_count(search, five_patients):
    first = search.search("Patient", [("_count", "2")], base_url=BASE)
    assert matches(first) == ["Patient/p0", "Patient/p1"] and first["total"] == 5
    assert links(first)["next"] == [("_count", "2"), ("_offset", "2")] and "previous" not in links(first)
    middle = search.search("Patient", [("_count", "2"), ("_offset", "2")], base_url=BASE)
    assert matches(middle) == ["Patient/p2", "Patient/p3"]
    assert links(middle)["next"] == [("_count", "2"), ("_offset", "4")]
    assert links(middle)["previous"] == [("_count", "2")]
    last = search.search("Patient", [("_count", "2"), ("_offset", "4")], base_url=BASE)
    assert matches(last) == ["Patient/p4"] and "next" not in links(last)


def test_following_next_links_visits_every_match_once(search, five_patients):
    seen, params = [], [("_count", "2"), ("_sort", "birthdate")]
    while params is not None:
        bundle = search.search("Patient", params, base_url=BASE)
        seen += matches(bundle)
        params = links(bundle).get("next")
    assert seen == [f"Patient/p{i}" for i in range(5)]


def test_without_a_total_a_full_page_still_has_a_next_link(search, five_patients):
    bundle = search.search("Patient", [("_count", "5"), ("_total", "none")], base_url=BASE)
    assert "total" not in bundle and "next" in links(bundle)


def test_summary_count_gives_only_the_total(search, five_patients):
    bundle = search.search("Patient", [("_summary", "count")], base_url=BASE)
    assert (bundle["total"], "entry" in bundle, set(links(bundle))) == (5, False, {"self"})


def test_deleted_resources_are_not_found(search, resources, five_patients):
    resources.delete("Patient", "p0")
    assert "Patient/p0" not in matches(search.search("Patient", [], base_url=BASE))


def test_unknown_parameters_are_reported_in_an_operation_outcome_entry(search, five_patients):
    bundle = search.search("Patient", [("nickname", "bob"), ("gender", "male")], base_url=BASE)
    assert matches(bundle) == ["Patient/p0", "Patient/p2", "Patient/p4"]
    (outcome,) = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    issue = outcome["resource"]["issue"][0]
    assert (outcome["resource"]["resourceType"], issue["severity"], issue["code"], issue["expression"]) == (
        "OperationOutcome", "warning", "not-supported", ["nickname"])
    assert ("nickname", "bob") not in links(bundle)["self"]


def test_strict_handling_rejects_unknown_parameters(search):
    with pytest.raises(UnsupportedSearchParameter):
        search.search("Patient", [("nickname", "bob")], base_url=BASE, strict=True)


def test_searching_an_unknown_type_is_rejected(search):
    with pytest.raises(UnknownResourceType):
        search.search("Unicorn", [], base_url=BASE)


def test_sorting_orders_the_matches(search, five_patients):
    bundle = search.search("Patient", [("_sort", "-birthdate")], base_url=BASE)
    assert matches(bundle) == [f"Patient/p{i}" for i in reversed(range(5))]


@pytest.fixture
def clinic(resources):
    put(resources, {"resourceType": "Organization", "id": "org", "name": "Acme"})
    put(resources, patient("ann", name=[{"family": "Ann"}], managingOrganization={"reference": "Organization/org"}))
    put(resources, patient("bob", name=[{"family": "Bob"}]))
    put(resources, observation("o1", "Patient/ann"))
    put(resources, observation("o2", "Patient/ann"))
    put(resources, observation("o3", "Patient/bob"))
    put(resources, {"resourceType": "Provenance", "id": "prov", "target": [{"reference": "Observation/o1"}],
                    "recorded": "2020-01-01T00:00:00Z", "agent": [{"who": {"reference": "Organization/org"}}]})


def test_include_adds_the_referenced_resources_once(search, clinic):
    bundle = search.search("Observation", [("_include", "Observation:subject")], base_url=BASE)
    assert matches(bundle) == ["Observation/o1", "Observation/o2", "Observation/o3"]
    assert matches(bundle, "include") == ["Patient/ann", "Patient/bob"]
    assert ("_include", "Observation:subject") in links(bundle)["self"]


def test_include_with_a_target_type_only_adds_that_type(search, clinic):
    bundle = search.search("Observation", [("_include", "Observation:subject:Group")], base_url=BASE)
    assert matches(bundle, "include") == []


def test_revinclude_adds_the_resources_pointing_at_the_matches(search, clinic):
    bundle = search.search("Patient", [("_id", "ann"), ("_revinclude", "Observation:subject")], base_url=BASE)
    assert matches(bundle) == ["Patient/ann"]
    assert matches(bundle, "include") == ["Observation/o1", "Observation/o2"]


def test_includes_only_follow_the_current_page(search, clinic):
    bundle = search.search("Observation", [("_sort", "_id"), ("_count", "2"), ("_offset", "2"),
                                           ("_include", "Observation:subject")], base_url=BASE)
    assert (matches(bundle), matches(bundle, "include")) == (["Observation/o3"], ["Patient/bob"])


def test_a_wildcard_include_follows_every_reference_parameter(search, clinic):
    bundle = search.search("Patient", [("_id", "ann"), ("_include", "Patient:*")], base_url=BASE)
    assert matches(bundle, "include") == ["Organization/org"]


def test_a_chained_search_finds_resources_through_their_references(search, clinic):
    bundle = search.search("Observation", [("subject:Patient.family", "ann")], base_url=BASE)
    assert matches(bundle) == ["Observation/o1", "Observation/o2"]
    assert matches(search.search("Observation", [("patient.family", "bob")], base_url=BASE)) == ["Observation/o3"]


def test_elements_keep_only_the_named_elements_and_mark_the_subset(search, five_patients):
    bundle = search.search("Patient", [("_id", "p0"), ("_elements", "gender")], base_url=BASE)
    resource = bundle["entry"][0]["resource"]
    assert set(resource) == {"resourceType", "id", "meta", "gender"}
    assert SUBSETTED in resource["meta"]["tag"]


def test_summary_data_drops_the_narrative(search, resources):
    put(resources, patient("n", gender="male", text={"status": "generated",
                                                     "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}))
    resource = search.search("Patient", [("_summary", "data")], base_url=BASE)["entry"][0]["resource"]
    assert "text" not in resource and resource["gender"] == "male" and SUBSETTED in resource["meta"]["tag"]


def test_a_resource_without_removed_elements_is_not_marked_subsetted(search, five_patients):
    resource = search.search("Patient", [("_id", "p0"), ("_summary", "data")], base_url=BASE)["entry"][0]["resource"]
    assert "tag" not in resource["meta"]


def test_a_value_at_the_lower_edge_of_the_implicit_range_matches(search, resources):
    put(resources, patient("x"))
    put(resources, observation("edge", "Patient/x", valueQuantity={"value": 5.35}))
    assert matches(search.search("Observation", [("value-quantity", "5.4")], base_url=BASE)) == ["Observation/edge"]
