"""Transaction and batch Bundles over the in-memory store: all-or-nothing, references, per-entry results."""
from __future__ import annotations

from typing import Any

import pytest

from engine.errors import BundleEntryError, InvalidRequest, PreconditionFailed, ReferenceNotResolved
from engine.fhir.dates import format_instant
from tests.unit.conftest import BASE, START_US

PATIENT_URN = "urn:uuid:5c2b1f1e-8d4a-4bb2-9b6c-0d0d3f3c0a01"
ORG_URN = "urn:uuid:0e7c2a55-3e65-4e53-8d41-2a4b3e9f7b02"


def entry(method: str, url: str, resource: dict[str, Any] | None = None, full_url: str | None = None,
          **request: str) -> dict[str, Any]:
    item: dict[str, Any] = {"request": {"method": method, "url": url, **request}}
    if resource is not None:
        item["resource"] = resource
    if full_url is not None:
        item["fullUrl"] = full_url
    return item


def bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def patient(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", **elements}


def observation(subject: str, **elements: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "subject": {"reference": subject}, **elements}


def snapshot(store) -> tuple:
    """Everything observable in the store: every version and every outbox event."""
    with store.unit_of_work(read_only=True) as uow:
        page = uow.history(resource_type=None, resource_id=None, since_us=None, count=10_000, offset=0)
        return [(r.key, r.version, r.body) for r in page.items], uow.outbox(limit=10_000)


def stored(store, location: str) -> dict[str, Any]:
    """The body behind a response location `Type/id/_history/v`."""
    resource_type, resource_id, _, version = location.split("/")
    with store.unit_of_work(read_only=True) as uow:
        return uow.read(resource_type, resource_id, int(version)).body


class TestTransactions:
    def test_every_entry_is_written_and_answered_in_request_order(self, bundles, store):
        response = bundles.process(bundle(
            "transaction",
            entry("PUT", "Patient/p1", patient(id="p1")),
            entry("POST", "Organization", {"resourceType": "Organization", "name": "Acme"}),
            entry("POST", "Patient", patient(gender="male")),
        ), base_url=BASE)
        assert response["type"] == "transaction-response"
        locations = [e["response"]["location"] for e in response["entry"]]
        assert locations[0] == "Patient/p1/_history/1"
        assert locations[1].startswith("Organization/") and locations[2].startswith("Patient/")
        assert [e["response"]["status"] for e in response["entry"]] == ["201 Created"] * 3
        assert all(e["response"]["etag"] == 'W/"1"' for e in response["entry"])
        assert stored(store, locations[2])["gender"] == "male"
        assert store.counts_by_type() == {"Patient": 2, "Organization": 1}

    def test_all_entries_share_one_timestamp(self, bundles):
        response = bundles.process(bundle("transaction", entry("POST", "Patient", patient()),
                                          entry("POST", "Patient", patient())), base_url=BASE)
        assert {e["response"]["lastModified"] for e in response["entry"]} == {format_instant(START_US)}

    def test_an_invalid_entry_leaves_the_store_and_outbox_unchanged(self, bundles, resources, store):
        resources.update("Patient", "kept", patient(id="kept"))
        before = snapshot(store)
        with pytest.raises(BundleEntryError) as caught:
            bundles.process(bundle(
                "transaction",
                entry("POST", "Patient", patient(gender="female")),
                entry("PUT", "Patient/kept", patient(id="kept", active=True)),
                entry("DELETE", "Patient/kept"),
                entry("POST", "Patient", patient(birthDate="2020-02-30")),
            ), base_url=BASE)
        assert caught.value.index == 3
        assert snapshot(store) == before

    def test_the_failing_entry_is_named_by_index_and_path(self, bundles):
        with pytest.raises(BundleEntryError) as caught:
            bundles.process(bundle("transaction", entry("POST", "Patient", patient()),
                                   entry("POST", "Patient", patient(birthDate="2020-02-30"))), base_url=BASE)
        assert (caught.value.index, caught.value.status) == (1, 422)
        assert [i.expression for i in caught.value.issues] == ["Bundle.entry[1].resource.birthDate"]

    def test_urn_uuid_placeholders_are_rewritten_to_the_assigned_ids(self, bundles, store):
        response = bundles.process(bundle(
            "transaction",
            entry("POST", "Observation", observation(PATIENT_URN, performer=[{"reference": ORG_URN}])),
            entry("POST", "Patient", patient(managingOrganization={"reference": ORG_URN}), full_url=PATIENT_URN),
            entry("POST", "Organization", {"resourceType": "Organization", "name": "Acme"}, full_url=ORG_URN),
        ), base_url=BASE)
        obs_loc, patient_loc, org_loc = [e["response"]["location"] for e in response["entry"]]
        patient_ref, org_ref = patient_loc.rsplit("/_history", 1)[0], org_loc.rsplit("/_history", 1)[0]
        assert stored(store, obs_loc)["subject"] == {"reference": patient_ref}
        assert stored(store, obs_loc)["performer"] == [{"reference": org_ref}]
        assert stored(store, patient_loc)["managingOrganization"] == {"reference": org_ref}

    def test_a_placeholder_naming_no_entry_fails_the_transaction(self, bundles, store):
        with pytest.raises(BundleEntryError) as caught:
            bundles.process(bundle("transaction", entry("POST", "Patient", patient()),
                                   entry("POST", "Observation", observation(PATIENT_URN))), base_url=BASE)
        assert caught.value.index == 1
        assert caught.value.issues[0].expression == "Bundle.entry[1].resource.subject"
        assert store.counts_by_type() == {}

    def test_a_reference_to_a_missing_resource_is_not_resolved_at_its_entry(self, bundles, store):
        with pytest.raises(BundleEntryError) as caught:
            bundles.process(bundle("transaction", entry("POST", "Patient", patient()),
                                   entry("POST", "Observation", observation("Patient/nope"))), base_url=BASE)
        assert caught.value.index == 1
        assert isinstance(caught.value.cause, ReferenceNotResolved)
        assert (caught.value.status, caught.value.issues[0].expression) == (422, "Bundle.entry[1].resource.subject")
        assert snapshot(store) == ([], [])

    def test_a_conditional_reference_resolves_against_the_store(self, bundles, resources, store):
        resources.update("Organization", "o1", {"resourceType": "Organization", "id": "o1",
                                                "identifier": [{"system": "urn:org", "value": "42"}]})
        response = bundles.process(bundle("transaction", entry(
            "POST", "Patient", patient(managingOrganization={"reference": "Organization?identifier=urn:org|42"}))),
            base_url=BASE)
        body = stored(store, response["entry"][0]["response"]["location"])
        assert body["managingOrganization"] == {"reference": "Organization/o1"}

    def test_a_conditional_reference_resolves_to_an_entry_of_the_same_bundle_by_identifier(self, bundles, store):
        response = bundles.process(bundle(
            "transaction",
            entry("POST", "Patient",
                  patient(managingOrganization={"reference": "Organization?identifier=urn:org|42"})),
            entry("POST", "Organization", {"resourceType": "Organization", "identifier": [
                {"system": "urn:org", "value": "42"}]}),
        ), base_url=BASE)
        patient_loc, org_loc = [e["response"]["location"] for e in response["entry"]]
        assert stored(store, patient_loc)["managingOrganization"] == {
            "reference": org_loc.rsplit("/_history", 1)[0]}

    def test_a_same_bundle_conditional_reference_by_value_alone_matches_any_identifier_system(self, bundles, store):
        response = bundles.process(bundle(
            "transaction",
            entry("POST", "Organization", {"resourceType": "Organization", "identifier": [
                {"system": "urn:org", "value": "42"}]}),
            entry("POST", "Patient", patient(managingOrganization={"reference": "Organization?identifier=42"})),
        ), base_url=BASE)
        org_loc, patient_loc = [e["response"]["location"] for e in response["entry"]]
        assert stored(store, patient_loc)["managingOrganization"] == {"reference": org_loc.rsplit("/_history", 1)[0]}

    def test_a_conditional_reference_matching_nothing_fails_at_its_entry(self, bundles):
        with pytest.raises(BundleEntryError) as caught:
            bundles.process(bundle("transaction", entry("POST", "Patient", patient()), entry(
                "POST", "Patient", patient(managingOrganization={"reference": "Organization?identifier=urn:org|1"}))),
                base_url=BASE)
        assert caught.value.index == 1 and isinstance(caught.value.cause, ReferenceNotResolved)
        assert caught.value.issues[0].expression == "Bundle.entry[1].resource.managingOrganization"

    def test_if_none_exist_reuses_the_match_and_placeholders_point_at_it(self, bundles, resources, store):
        resources.update("Patient", "m", patient(id="m", identifier=[{"system": "urn:mrn", "value": "7"}]))
        response = bundles.process(bundle(
            "transaction",
            entry("POST", "Patient", patient(identifier=[{"system": "urn:mrn", "value": "7"}]), full_url=PATIENT_URN,
                  ifNoneExist="identifier=urn:mrn|7"),
            entry("POST", "Observation", observation(PATIENT_URN)),
        ), base_url=BASE)
        first, second = [e["response"] for e in response["entry"]]
        assert (first["status"], first["location"]) == ("200 OK", "Patient/m")
        assert stored(store, second["location"])["subject"] == {"reference": "Patient/m"}
        assert store.counts_by_type() == {"Patient": 1, "Observation": 1}

    def test_conditional_update_and_delete_inside_a_transaction(self, bundles, resources, store):
        resources.update("Patient", "a", patient(id="a", identifier=[{"system": "urn:mrn", "value": "1"}]))
        resources.update("Patient", "b", patient(id="b", identifier=[{"system": "urn:mrn", "value": "2"}]))
        response = bundles.process(bundle(
            "transaction",
            entry("PUT", "Patient?identifier=urn:mrn|1", patient(identifier=[{"system": "urn:mrn", "value": "1"}],
                                                                   gender="male")),
            entry("DELETE", "Patient?identifier=urn:mrn|2"),
            entry("DELETE", "Patient?identifier=urn:mrn|3"),
        ), base_url=BASE)
        assert [e["response"]["status"] for e in response["entry"]] == ["200 OK", "204 No Content", "204 No Content"]
        assert response["entry"][0]["response"]["location"] == "Patient/a/_history/2"
        assert store.counts_by_type() == {"Patient": 1}

    def test_a_conditional_write_matching_several_resources_fails_the_precondition(self, bundles, resources):
        resources.create(patient(gender="male"))
        resources.create(patient(gender="male"))
        with pytest.raises(BundleEntryError) as caught:
            bundles.process(bundle("transaction", entry("DELETE", "Patient?gender=male")), base_url=BASE)
        assert isinstance(caught.value.cause, PreconditionFailed) and caught.value.status == 412

    def test_if_match_mismatch_fails_the_whole_transaction(self, bundles, resources, store):
        resources.update("Patient", "a", patient(id="a"))
        before = snapshot(store)
        with pytest.raises(BundleEntryError) as caught:
            bundles.process(bundle("transaction", entry("POST", "Patient", patient()),
                                   entry("PUT", "Patient/a", patient(id="a", active=True), ifMatch='W/"2"')),
                            base_url=BASE)
        assert (caught.value.index, caught.value.status) == (1, 412)
        assert snapshot(store) == before

    def test_changing_the_same_resource_twice_is_rejected(self, bundles):
        with pytest.raises(InvalidRequest):
            bundles.process(bundle("transaction", entry("PUT", "Patient/a", patient(id="a")),
                                   entry("PUT", "Patient/a", patient(id="a"))), base_url=BASE)

    def test_a_url_naming_another_type_than_the_resource_is_rejected(self, bundles):
        with pytest.raises(BundleEntryError) as caught:
            bundles.process(bundle("transaction", entry("POST", "Patient", observation("Patient/x"))), base_url=BASE)
        assert caught.value.status == 400

    def test_deleting_a_resource_that_another_entry_references_keeps_integrity(self, bundles, resources, store):
        resources.update("Patient", "p", patient(id="p"))
        with pytest.raises(BundleEntryError):
            bundles.process(bundle("transaction", entry("DELETE", "Patient/p"),
                                   entry("POST", "Observation", observation("Patient/p"))), base_url=BASE)
        assert store.counts_by_type() == {"Patient": 1}

    def test_get_entries_run_after_the_writes(self, bundles):
        response = bundles.process(bundle(
            "transaction",
            entry("GET", "Patient?identifier=urn:mrn|5"),
            entry("POST", "Patient", patient(identifier=[{"system": "urn:mrn", "value": "5"}])),
        ), base_url=BASE)
        searchset = response["entry"][0]["resource"]
        assert (searchset["type"], searchset["total"]) == ("searchset", 1)


class TestBatches:
    def test_entries_fail_independently(self, bundles, store):
        response = bundles.process(bundle(
            "batch",
            entry("POST", "Patient", patient(gender="female")),
            entry("POST", "Patient", patient(birthDate="2020-02-30")),
            entry("GET", "Patient/nope"),
            entry("DELETE", "Patient/nope"),
            entry("POST", "Observation", observation("Patient/nope")),
            entry("POST", "Patient", patient(gender="male")),
        ), base_url=BASE)
        assert response["type"] == "batch-response"
        statuses = [e["response"]["status"] for e in response["entry"]]
        assert statuses == ["201 Created", "422 Unprocessable Entity", "404 Not Found", "404 Not Found",
                            "422 Unprocessable Entity", "201 Created"]
        assert store.counts_by_type() == {"Patient": 2}

    def test_a_failed_entry_carries_an_operation_outcome_naming_the_entry(self, bundles):
        response = bundles.process(bundle("batch", entry("POST", "Patient", patient()),
                                          entry("POST", "Patient", patient(birthDate="x"))), base_url=BASE)
        outcome = response["entry"][1]["response"]["outcome"]
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["expression"] == ["Bundle.entry[1].resource.birthDate"]

    def test_batch_entries_cover_update_conditional_and_read(self, bundles, resources):
        resources.update("Patient", "a", patient(id="a", identifier=[{"system": "urn:mrn", "value": "1"}]))
        response = bundles.process(bundle(
            "batch",
            entry("PUT", "Patient/a", patient(id="a", active=True), ifMatch='W/"1"'),
            entry("PUT", "Patient/a", patient(id="a"), ifMatch='W/"1"'),
            entry("GET", "Patient/a/_history/1"),
            entry("DELETE", "Patient?identifier=urn:mrn|1"),
            entry("POST", "Patient", patient(), ifNoneExist="identifier=urn:mrn|404"),
        ), base_url=BASE)
        statuses = [e["response"]["status"] for e in response["entry"]]
        assert statuses == ["200 OK", "412 Precondition Failed", "200 OK", "204 No Content", "201 Created"]
        assert response["entry"][2]["resource"]["id"] == "a"

    def test_a_batch_post_to_another_type_than_the_resource_is_rejected(self, bundles, store):
        response = bundles.process(bundle("batch", entry("POST", "Observation", patient())), base_url=BASE)
        assert response["entry"][0]["response"]["status"] == "400 Bad Request"
        assert store.counts_by_type() == {}


class TestMalformedBundles:
    @pytest.mark.parametrize("value", [
        {"resourceType": "Patient"}, {"resourceType": "Bundle", "type": "collection"}, [],
        {"resourceType": "Bundle", "type": "transaction", "entry": {"request": {}}},
        {"resourceType": "Bundle", "type": "transaction", "entry": {}},
        bundle("transaction", {"resource": patient()}),
        bundle("transaction", entry("PATCH", "Patient/a")),
        bundle("transaction", entry("POST", "Patient")),
    ], ids=["not-a-bundle", "collection", "list", "entry-object", "entry-empty-object", "no-request", "patch",
            "post-without-resource"])
    def test_a_malformed_bundle_is_a_bad_request(self, bundles, value):
        with pytest.raises(InvalidRequest):
            bundles.process(value, base_url=BASE)

    def test_an_empty_transaction_answers_an_empty_response(self, bundles):
        assert bundles.process(bundle("transaction"), base_url=BASE)["entry"] == []
