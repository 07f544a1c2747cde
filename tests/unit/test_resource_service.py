"""Single-resource interactions over the in-memory store: create, read, update, delete and their variants."""
from __future__ import annotations

import copy
from typing import Any

import pytest

from engine.errors import (InvalidRequest, InvalidResource, PreconditionFailed, ReferenceNotResolved, ResourceGone,
                           ResourceNotFound, UnknownResourceType, UnsupportedSearchParameter)
from engine.fhir.dates import format_instant
from engine.services.resources import ResourceService, parse_etag
from tests.unit.conftest import START_US, TICK_US


def patient(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", **elements}


def mrn(value: str) -> list[dict[str, str]]:
    return [{"system": "urn:mrn", "value": value}]


def observation(subject: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "subject": {"reference": subject}}


def versions(store, resource_type: str, resource_id: str) -> list[tuple[int, str]]:
    with store.unit_of_work(read_only=True) as uow:
        page = uow.history(resource_type=resource_type, resource_id=resource_id, since_us=None, count=100, offset=0)
        return sorted((r.version, r.method) for r in page.items)


def outbox(store) -> list[tuple[str, int, str]]:
    with store.unit_of_work(read_only=True) as uow:
        return [(f"{e.resource_type}/{e.resource_id}", e.version, e.operation) for e in uow.outbox()]


class TestCreate:
    def test_create_assigns_an_id_version_one_and_meta(self, resources):
        outcome = resources.create(patient(gender="female"), source="urn:test")
        stored = outcome.stored
        assert (outcome.created, stored.version, stored.method) == (True, 1, "create")
        assert stored.last_updated_us == START_US
        assert stored.body["id"] == stored.resource_id and len(stored.resource_id) == 36
        assert stored.body["meta"] == {"versionId": "1", "lastUpdated": format_instant(START_US), "source": "urn:test"}

    def test_create_ignores_the_clients_id(self, resources):
        assert resources.create(patient(id="mine")).stored.resource_id != "mine"

    def test_create_keeps_a_source_the_client_gave(self, resources):
        body = resources.create(patient(meta={"source": "urn:client"}), source="urn:server").stored.body
        assert body["meta"]["source"] == "urn:client"

    def test_create_never_mutates_the_callers_resource(self, resources):
        original = patient(name=[{"family": "X"}], meta={"versionId": "9"})
        snapshot = copy.deepcopy(original)
        resources.create(original)
        assert original == snapshot

    def test_a_created_resource_can_be_read_and_found(self, resources, search):
        created = resources.create(patient(gender="other")).stored
        assert resources.read("Patient", created.resource_id).body == created.body
        bundle = search.search("Patient", [("gender", "other")], base_url="http://b")
        assert [e["resource"]["id"] for e in bundle["entry"]] == [created.resource_id]

    def test_an_invalid_resource_is_rejected_and_nothing_is_stored(self, resources, store):
        with pytest.raises(InvalidResource):
            resources.create(patient(birthDate="2020-02-30"))
        assert store.counts_by_type() == {} and outbox(store) == []

    def test_an_unknown_resource_type_is_rejected(self, resources):
        with pytest.raises(UnknownResourceType):
            resources.create({"resourceType": "Unicorn"})

    def test_each_write_announces_itself_in_the_outbox(self, resources, store):
        pid = resources.create(patient()).stored.resource_id
        resources.update("Patient", pid, patient(id=pid, active=True))
        resources.delete("Patient", pid)
        assert outbox(store) == [(f"Patient/{pid}", 1, "upsert"), (f"Patient/{pid}", 2, "upsert"),
                                 (f"Patient/{pid}", 3, "delete")]


class TestReadUpdateDelete:
    def test_reading_an_unknown_resource_is_not_found(self, resources):
        with pytest.raises(ResourceNotFound):
            resources.read("Patient", "nope")
        with pytest.raises(ResourceNotFound):
            resources.read("Patient", "nope", 1)

    def test_reading_an_unknown_type_is_rejected(self, resources):
        with pytest.raises(UnknownResourceType):
            resources.read("Unicorn", "1")

    def test_updates_number_versions_consecutively_and_keep_old_ones(self, resources, store):
        pid = resources.create(patient(gender="male")).stored.resource_id
        second = resources.update("Patient", pid, patient(id=pid, gender="female"))
        third = resources.update("Patient", pid, patient(id=pid, gender="other"))
        assert (second.created, second.stored.version, third.stored.version) == (False, 2, 3)
        assert third.stored.body["meta"]["versionId"] == "3"
        assert third.stored.last_updated_us == START_US + 2 * TICK_US
        assert resources.read("Patient", pid, 1).body["gender"] == "male"
        assert resources.read("Patient", pid).body["gender"] == "other"
        assert versions(store, "Patient", pid) == [(1, "create"), (2, "update"), (3, "update")]

    def test_update_with_the_clients_id_creates_the_resource(self, resources):
        outcome = resources.update("Patient", "client-1", patient(id="client-1"))
        assert (outcome.created, outcome.stored.version, outcome.stored.resource_id) == (True, 1, "client-1")

    @pytest.mark.parametrize("body", [patient(id="other"), patient(), {"resourceType": "Observation", "id": "x"}],
                             ids=["other-id", "no-id", "other-type"])
    def test_update_requires_the_body_to_match_the_url(self, resources, body):
        with pytest.raises(InvalidRequest):
            resources.update("Patient", "x", body)

    def test_update_rejects_an_invalid_id_in_the_url(self, resources):
        with pytest.raises(InvalidRequest):
            resources.update("Patient", "bad id", patient(id="bad id"))

    def test_if_match_with_the_current_version_updates(self, resources):
        pid = resources.create(patient()).stored.resource_id
        assert resources.update("Patient", pid, patient(id=pid, active=True), if_match='W/"1"').stored.version == 2

    @pytest.mark.parametrize("etag", ['W/"2"', '"0"', "7"])
    def test_if_match_with_another_version_fails_the_precondition(self, resources, etag):
        pid = resources.create(patient()).stored.resource_id
        with pytest.raises(PreconditionFailed) as caught:
            resources.update("Patient", pid, patient(id=pid, active=True), if_match=etag)
        assert caught.value.status == 412
        assert "active" not in resources.read("Patient", pid).body

    def test_if_match_on_a_resource_that_does_not_exist_fails_the_precondition(self, resources):
        with pytest.raises(PreconditionFailed):
            resources.update("Patient", "new", patient(id="new"), if_match='W/"1"')

    @pytest.mark.parametrize("etag", ["W/", 'W/"x"', "", '"1.0"'])
    def test_a_malformed_if_match_is_a_bad_request(self, etag):
        with pytest.raises(InvalidRequest):
            parse_etag(etag)

    def test_a_deleted_resource_reads_as_gone_but_its_versions_remain(self, resources):
        pid = resources.create(patient(gender="male")).stored.resource_id
        deleted = resources.delete("Patient", pid)
        assert (deleted.stored.version, deleted.stored.deleted, deleted.stored.body) == (2, True, None)
        with pytest.raises(ResourceGone) as caught:
            resources.read("Patient", pid)
        assert caught.value.status == 410
        assert resources.read("Patient", pid, 1).body["gender"] == "male"
        with pytest.raises(ResourceGone):
            resources.read("Patient", pid, 2)

    def test_deleting_twice_changes_nothing(self, resources, store):
        pid = resources.create(patient()).stored.resource_id
        resources.delete("Patient", pid)
        again = resources.delete("Patient", pid)
        assert (again.stored, again.changed) == (None, False)
        assert versions(store, "Patient", pid) == [(1, "create"), (2, "delete")]

    def test_deleting_an_unknown_resource_is_not_found(self, resources):
        with pytest.raises(ResourceNotFound):
            resources.delete("Patient", "nope")

    def test_a_deleted_resource_disappears_from_search(self, resources, search):
        pid = resources.create(patient(gender="male")).stored.resource_id
        resources.delete("Patient", pid)
        assert "entry" not in search.search("Patient", [("gender", "male")], base_url="http://b")

    def test_updating_a_deleted_resource_brings_it_back_as_a_new_version(self, resources):
        pid = resources.create(patient()).stored.resource_id
        resources.delete("Patient", pid)
        outcome = resources.update("Patient", pid, patient(id=pid))
        assert (outcome.created, outcome.stored.version) == (True, 3)
        assert resources.read("Patient", pid).version == 3


class TestConditionalInteractions:
    def test_conditional_create_returns_the_single_match_without_writing(self, resources, store):
        existing = resources.create(patient(identifier=mrn("1"))).stored
        outcome = resources.create(patient(identifier=mrn("1"), gender="male"), if_none_exist="identifier=urn:mrn|1")
        assert (outcome.created, outcome.changed, outcome.stored.resource_id) == (False, False, existing.resource_id)
        assert store.counts_by_type() == {"Patient": 1} and len(outbox(store)) == 1

    def test_conditional_create_creates_when_nothing_matches(self, resources, store):
        resources.create(patient(identifier=mrn("1")))
        assert resources.create(patient(identifier=mrn("2")), if_none_exist="identifier=urn:mrn|2").created
        assert store.counts_by_type() == {"Patient": 2}

    def test_conditional_create_with_several_matches_fails_the_precondition(self, resources):
        resources.create(patient(gender="male"))
        resources.create(patient(gender="male"))
        with pytest.raises(PreconditionFailed):
            resources.create(patient(), if_none_exist="gender=male")

    def test_conditional_criteria_must_be_known_parameters(self, resources):
        with pytest.raises(UnsupportedSearchParameter):
            resources.create(patient(), if_none_exist="nickname=bob")

    def test_conditional_update_updates_the_single_match(self, resources):
        pid = resources.create(patient(identifier=mrn("1"))).stored.resource_id
        outcome = resources.conditional_update("Patient", "identifier=urn:mrn|1",
                                               patient(identifier=mrn("1"), gender="female"))
        assert (outcome.created, outcome.stored.resource_id, outcome.stored.version) == (False, pid, 2)

    def test_conditional_update_creates_when_nothing_matches(self, resources):
        outcome = resources.conditional_update("Patient", "identifier=urn:mrn|9", patient(identifier=mrn("9")))
        assert (outcome.created, outcome.stored.version) == (True, 1)
        with_id = resources.conditional_update("Patient", "identifier=urn:mrn|8",
                                               patient(id="p8", identifier=mrn("8")))
        assert with_id.stored.resource_id == "p8"

    def test_conditional_update_with_several_matches_fails_the_precondition(self, resources):
        resources.create(patient(gender="male"))
        resources.create(patient(gender="male"))
        with pytest.raises(PreconditionFailed):
            resources.conditional_update("Patient", "gender=male", patient())

    def test_conditional_update_rejects_a_body_id_other_than_the_match(self, resources):
        resources.create(patient(identifier=mrn("1")))
        with pytest.raises(InvalidRequest):
            resources.conditional_update("Patient", "identifier=urn:mrn|1", patient(id="someone-else"))

    def test_conditional_delete_deletes_the_single_match(self, resources):
        pid = resources.create(patient(identifier=mrn("1"))).stored.resource_id
        assert resources.conditional_delete("Patient", "identifier=urn:mrn|1").stored.deleted
        with pytest.raises(ResourceGone):
            resources.read("Patient", pid)

    def test_conditional_delete_without_a_match_changes_nothing(self, resources, store):
        outcome = resources.conditional_delete("Patient", "identifier=urn:mrn|1")
        assert (outcome.stored, outcome.changed) == (None, False)

    def test_conditional_delete_with_several_matches_fails_the_precondition(self, resources):
        resources.create(patient(gender="male"))
        resources.create(patient(gender="male"))
        with pytest.raises(PreconditionFailed):
            resources.conditional_delete("Patient", "gender=male")

    def test_a_conditional_interaction_needs_criteria(self, resources):
        with pytest.raises(InvalidRequest):
            resources.conditional_delete("Patient", "")


class TestReferences:
    def test_a_reference_to_a_missing_resource_is_not_resolved_and_names_the_element(self, resources, store):
        with pytest.raises(ReferenceNotResolved) as caught:
            resources.create(observation("Patient/nope"))
        assert caught.value.status == 422
        assert [i.expression for i in caught.value.issues] == ["Observation.subject"]
        assert store.counts_by_type() == {}

    def test_a_reference_to_an_existing_resource_is_accepted(self, resources):
        pid = resources.create(patient()).stored.resource_id
        assert resources.create(observation(f"Patient/{pid}")).created

    def test_a_reference_to_a_deleted_resource_is_not_resolved(self, resources):
        pid = resources.create(patient()).stored.resource_id
        resources.delete("Patient", pid)
        with pytest.raises(ReferenceNotResolved):
            resources.create(observation(f"Patient/{pid}"))

    def test_absolute_references_are_not_checked(self, resources):
        assert resources.create(observation("https://elsewhere.example/fhir/Patient/1")).created

    def test_without_referential_integrity_missing_targets_are_accepted(self, store, clock):
        lenient = ResourceService(store, clock, referential_integrity=False)
        assert lenient.create(observation("Patient/nope")).created

    def test_a_placeholder_outside_a_transaction_never_resolves(self, store, clock):
        lenient = ResourceService(store, clock, referential_integrity=False)
        with pytest.raises(ReferenceNotResolved):
            lenient.create(observation("urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"))

    def test_a_conditional_reference_is_rewritten_to_the_single_match(self, resources):
        pid = resources.create(patient(identifier=mrn("1"))).stored.resource_id
        body = resources.create(observation("Patient?identifier=urn:mrn|1")).stored.body
        assert body["subject"] == {"reference": f"Patient/{pid}"}

    def test_a_conditional_reference_matching_nothing_is_not_resolved(self, resources):
        with pytest.raises(ReferenceNotResolved) as caught:
            resources.create(observation("Patient?identifier=urn:mrn|1"))
        assert caught.value.issues[0].expression == "Observation.subject"

    def test_a_conditional_reference_matching_several_is_not_resolved(self, resources):
        resources.create(patient(gender="male"))
        resources.create(patient(gender="male"))
        with pytest.raises(ReferenceNotResolved) as caught:
            resources.create(observation("Patient?gender=male"))
        assert caught.value.issues[0].code == "multiple-matches"

    def test_a_resource_may_reference_itself(self, resources):
        outcome = resources.update("Patient", "me", patient(id="me", link=[{"other": {"reference": "Patient/me"},
                                                                          "type": "seealso"}]))
        assert outcome.created
