"""History Bundles at instance, type and system level over the in-memory store."""
from __future__ import annotations

import pytest

from engine.errors import InvalidRequest, ResourceNotFound, UnknownResourceType
from engine.fhir.dates import format_instant
from tests.unit.conftest import BASE, START_US, TICK_US


@pytest.fixture
def timeline(resources):
    """Patient/a created, updated and deleted, then Patient/b and Observation/o created (one clock tick each)."""
    resources.update("Patient", "a", {"resourceType": "Patient", "id": "a"})
    resources.update("Patient", "a", {"resourceType": "Patient", "id": "a", "active": True})
    resources.delete("Patient", "a")
    resources.update("Patient", "b", {"resourceType": "Patient", "id": "b"})
    resources.update("Observation", "o", {"resourceType": "Observation", "id": "o", "status": "final",
                                          "code": {"text": "x"}, "subject": {"reference": "Patient/b"}})


def versions(bundle) -> list[str]:
    return [f"{e['fullUrl'].removeprefix(BASE + '/')}@{e['response']['etag']}" for e in bundle.get("entry", [])]


def links(bundle) -> dict[str, str]:
    return {link["relation"]: link["url"] for link in bundle["link"]}


def test_instance_history_lists_every_version_newest_first(history, timeline):
    bundle = history.history(resource_type="Patient", resource_id="a", params=[], base_url=BASE)
    assert (bundle["type"], bundle["total"]) == ("history", 3)
    assert versions(bundle) == ['Patient/a@W/"3"', 'Patient/a@W/"2"', 'Patient/a@W/"1"']


def test_each_entry_says_what_happened(history, timeline):
    deletion, update, creation = history.history(resource_type="Patient", resource_id="a", params=[],
                                                 base_url=BASE)["entry"]
    assert "resource" not in deletion
    assert deletion["request"] == {"method": "DELETE", "url": "Patient/a"}
    assert deletion["response"]["status"] == "204 No Content"
    assert update["request"] == {"method": "PUT", "url": "Patient/a"}
    assert (update["response"]["status"], update["resource"]["active"]) == ("200 OK", True)
    assert creation["response"] == {"status": "201 Created", "etag": 'W/"1"',
                                    "lastModified": format_instant(START_US)}


def test_type_history_covers_every_resource_of_the_type(history, timeline):
    bundle = history.history(resource_type="Patient", resource_id=None, params=[], base_url=BASE)
    assert versions(bundle) == ['Patient/b@W/"1"', 'Patient/a@W/"3"', 'Patient/a@W/"2"', 'Patient/a@W/"1"']


def test_system_history_covers_every_type(history, timeline):
    bundle = history.history(resource_type=None, resource_id=None, params=[], base_url=BASE)
    assert bundle["total"] == 5 and versions(bundle)[0] == 'Observation/o@W/"1"'
    assert links(bundle)["self"] == f"{BASE}/_history?_count=10"


def test_since_keeps_versions_from_that_instant_on(history, timeline):
    since = format_instant(START_US + 2 * TICK_US)
    bundle = history.history(resource_type=None, resource_id=None, params=[("_since", since)], base_url=BASE)
    assert versions(bundle) == ['Observation/o@W/"1"', 'Patient/b@W/"1"', 'Patient/a@W/"3"']


def test_paging_links_move_by_count_and_keep_since(history, timeline):
    params = [("_since", "2000"), ("_count", "2"), ("_offset", "2")]
    bundle = history.history(resource_type=None, resource_id=None, params=params, base_url=BASE)
    assert versions(bundle) == ['Patient/a@W/"3"', 'Patient/a@W/"2"']
    assert links(bundle) == {"self": f"{BASE}/_history?_since=2000&_count=2&_offset=2",
                             "next": f"{BASE}/_history?_since=2000&_count=2&_offset=4",
                             "previous": f"{BASE}/_history?_since=2000&_count=2"}


def test_the_last_page_has_no_next_link(history, timeline):
    bundle = history.history(resource_type="Patient", resource_id="a", params=[("_count", "3")], base_url=BASE)
    assert set(links(bundle)) == {"self"}


def test_count_zero_gives_the_total_without_a_next_link_to_the_same_page(history, timeline):
    bundle = history.history(resource_type="Patient", resource_id="a", params=[("_count", "0")], base_url=BASE)
    assert (bundle["total"], "entry" in bundle) == (3, False)
    assert links(bundle).get("next") != links(bundle)["self"]


def test_count_is_capped_by_the_maximum(history, timeline):
    bundle = history.history(resource_type=None, resource_id=None, params=[("_count", "100000")], base_url=BASE)
    assert "_count=100" in links(bundle)["self"] and len(bundle["entry"]) == 5


def test_history_of_an_unknown_resource_is_not_found(history):
    with pytest.raises(ResourceNotFound):
        history.history(resource_type="Patient", resource_id="nope", params=[], base_url=BASE)


def test_history_of_an_unknown_type_is_rejected(history):
    with pytest.raises(UnknownResourceType):
        history.history(resource_type="Unicorn", resource_id=None, params=[], base_url=BASE)


@pytest.mark.parametrize("name, value", [("_since", "yesterday"), ("_count", "-1"), ("_offset", "x"),
                                         ("_count", "²")])
def test_malformed_paging_or_since_is_a_bad_request(history, name, value):
    with pytest.raises(InvalidRequest):
        history.history(resource_type=None, resource_id=None, params=[(name, value)], base_url=BASE)


def test_an_empty_history_has_no_entries(history):
    bundle = history.history(resource_type="Patient", resource_id=None, params=[], base_url=BASE)
    assert (bundle["total"], "entry" in bundle) == (0, False)
