"""The in-memory store honours the store port: transactions, versions, history, outbox and search."""
from __future__ import annotations

from typing import Any

import pytest

from engine.errors import VersionConflict
from engine.security.visibility import Visibility
from engine.search.parsing import parse_search
from engine.services.writes import prepare_delete, prepare_write
from engine.store.model import PendingWrite
from tests.fakes import FakeResourceStore
from tests.unit.support import us

T0 = us(2023, 1, 1)


def write(uow, resource: dict[str, Any], when: int = T0) -> PendingWrite:
    """Save a new version of `resource` (id required) in `uow`."""
    current = uow.current(resource["resourceType"], resource["id"])
    pending = prepare_write(resource, resource_id=resource["id"], current=current, now_us=when, source=None)
    uow.save([pending])
    return pending


def put(store: FakeResourceStore, *resources: dict[str, Any], when: int = T0) -> None:
    with store.unit_of_work() as uow:
        for resource in resources:
            write(uow, resource, when)
        uow.commit()


def remove(store: FakeResourceStore, resource_type: str, resource_id: str, when: int) -> None:
    with store.unit_of_work() as uow:
        uow.save([prepare_delete(resource_type, resource_id, uow.current(resource_type, resource_id), when)])
        uow.commit()


def patient(resource_id: str, **elements: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": resource_id, **elements}


def ids(store: FakeResourceStore, resource_type: str, *params: tuple[str, str]) -> list[str]:
    with store.unit_of_work(read_only=True) as uow:
        return [r.resource_id for r in uow.search(parse_search(resource_type, list(params), strict=True)).items]


@pytest.fixture
def store() -> FakeResourceStore:
    return FakeResourceStore()


class TestTransactions:
    def test_writes_are_invisible_to_other_units_of_work_until_commit(self, store):
        with store.unit_of_work() as writer:
            write(writer, patient("a"))
            assert writer.read("Patient", "a") is not None
            with store.unit_of_work(read_only=True) as reader:
                assert reader.read("Patient", "a") is None
            writer.commit()
        with store.unit_of_work(read_only=True) as reader:
            assert reader.read("Patient", "a").version == 1

    def test_rollback_discards_versions_index_rows_and_outbox_events(self, store):
        with store.unit_of_work() as uow:
            write(uow, patient("a", gender="male"))
            uow.rollback()
            assert uow.read("Patient", "a") is None and uow.outbox() == []
            uow.commit()
        assert ids(store, "Patient", ("gender", "male")) == []
        assert store.counts_by_type() == {}

    def test_leaving_the_block_without_commit_rolls_back(self, store):
        with store.unit_of_work() as uow:
            write(uow, patient("a"))
        with store.unit_of_work(read_only=True) as uow:
            assert uow.read("Patient", "a") is None and uow.outbox() == []

    def test_an_exception_inside_the_block_rolls_back(self, store):
        with pytest.raises(ZeroDivisionError), store.unit_of_work() as uow:
            write(uow, patient("a"))
            1 / 0
        assert store.counts_by_type() == {}

    def test_work_after_a_commit_is_a_new_transaction(self, store):
        with store.unit_of_work() as uow:
            write(uow, patient("a"))
            uow.commit()
            write(uow, patient("b"))
        assert store.counts_by_type() == {"Patient": 1}

    def test_concurrent_creation_of_the_same_resource_conflicts_at_commit(self, store):
        first, second = store.unit_of_work(), store.unit_of_work()
        write(first, patient("a"))
        write(second, patient("a"))
        first.commit()
        with pytest.raises(VersionConflict):
            second.commit()

    def test_creating_a_resource_that_exists_conflicts_at_save(self, store):
        put(store, patient("a"))
        with store.unit_of_work() as uow:
            pending = prepare_write(patient("a"), resource_id="a", current=None, now_us=T0, source=None)
            with pytest.raises(VersionConflict):
                uow.save([pending])

    def test_commits_to_different_resources_do_not_conflict(self, store):
        first, second = store.unit_of_work(), store.unit_of_work()
        write(first, patient("a"))
        write(second, patient("b"))
        first.commit()
        second.commit()
        assert store.counts_by_type() == {"Patient": 2}

    def test_a_read_only_unit_of_work_refuses_writes(self, store):
        with store.unit_of_work(read_only=True) as uow, pytest.raises(RuntimeError):
            write(uow, patient("a"))

    def test_a_closed_unit_of_work_refuses_use(self, store):
        with store.unit_of_work() as uow:
            pass
        with pytest.raises(RuntimeError):
            uow.read("Patient", "a")

    def test_the_store_answers_ping(self, store):
        assert store.ping() is True


class TestVersionsAndOutbox:
    def test_each_write_is_a_new_version_and_all_are_kept(self, store):
        put(store, patient("a", gender="male"), when=T0)
        put(store, patient("a", gender="female"), when=T0 + 1)
        with store.unit_of_work(read_only=True) as uow:
            assert uow.current("Patient", "a").version == 2
            assert uow.read("Patient", "a", 1).body["gender"] == "male"
            assert uow.read("Patient", "a").body["gender"] == "female"
            assert uow.read("Patient", "a", 3) is None
        assert ids(store, "Patient", ("gender", "male")) == []
        assert ids(store, "Patient", ("gender", "female")) == ["a"]

    def test_a_deletion_is_a_version_without_body_that_search_and_read_many_skip(self, store):
        put(store, patient("a", gender="male"), patient("b"))
        remove(store, "Patient", "a", T0 + 1)
        with store.unit_of_work(read_only=True) as uow:
            latest = uow.read("Patient", "a")
            assert (latest.version, latest.deleted, latest.body, latest.method) == (2, True, None, "delete")
            assert uow.current("Patient", "a").deleted is True
            found = uow.read_many([("Patient", "a"), ("Patient", "b"), ("Patient", "c")])
            assert [r.resource_id for r in found] == ["b"]
        assert ids(store, "Patient", ("gender", "male")) == [] and ids(store, "Patient") == ["b"]
        assert store.counts_by_type() == {"Patient": 1}

    def test_the_outbox_has_one_event_per_version_in_order(self, store):
        put(store, patient("a"), patient("b"), when=T0)
        remove(store, "Patient", "a", T0 + 5)
        with store.unit_of_work(read_only=True) as uow:
            events = uow.outbox()
            assert [(e.seq, e.resource_id, e.version, e.operation, e.created_us) for e in events] == [
                (1, "a", 1, "upsert", T0), (2, "b", 1, "upsert", T0), (3, "a", 2, "delete", T0 + 5)]
            assert [e.seq for e in uow.outbox(after_seq=1, limit=1)] == [2]

    def test_history_is_newest_first_with_total_since_and_paging(self, store):
        put(store, patient("a"), when=T0)
        put(store, patient("b"), when=T0 + 10)
        put(store, patient("a"), when=T0 + 20)
        with store.unit_of_work(read_only=True) as uow:
            page = uow.history(resource_type=None, resource_id=None, since_us=None, count=10, offset=0)
            assert [(r.resource_id, r.version) for r in page.items] == [("a", 2), ("b", 1), ("a", 1)]
            assert page.total == 3
            page = uow.history(resource_type="Patient", resource_id="a", since_us=None, count=1, offset=1)
            assert ([(r.resource_id, r.version) for r in page.items], page.total) == ([("a", 1)], 2)
            page = uow.history(resource_type=None, resource_id=None, since_us=T0 + 10, count=10, offset=0)
            assert [(r.resource_id, r.version) for r in page.items] == [("a", 2), ("b", 1)]

    def test_history_breaks_time_ties_by_newest_insertion(self, store):
        put(store, patient("a"), patient("b"), when=T0)
        with store.unit_of_work(read_only=True) as uow:
            page = uow.history(resource_type="Patient", resource_id=None, since_us=None, count=10, offset=0)
            assert [r.resource_id for r in page.items] == ["b", "a"]


class TestSearch:
    @pytest.fixture
    def dated(self, store):
        put(store, patient("inside", birthDate="2020-06-15"), patient("before", birthDate="2020-05-20"),
            patient("after", birthDate="2020-07-02"), patient("year", birthDate="2020"),
            patient("month", birthDate="2020-06"), patient("none"))
        return store

    @pytest.mark.parametrize("prefix, expected", [
        ("eq", {"inside", "month"}), ("ne", {"before", "after", "year"}), ("gt", {"after", "year"}),
        ("lt", {"before", "year"}), ("ge", {"inside", "after", "year", "month"}),
        ("le", {"inside", "before", "year", "month"}), ("sa", {"after"}), ("eb", {"before"}),
        ("ap", {"inside", "before", "after", "year", "month"}),
    ])
    def test_date_prefixes_compare_the_stored_range_with_the_searched_range(self, dated, prefix, expected):
        assert set(ids(dated, "Patient", ("birthdate", f"{prefix}2020-06"))) == expected

    @pytest.fixture
    def weighed(self, store):
        for index, kg in enumerate([5.3, 5.36, 5.4, 5.45, 5.5]):
            put(store, {"resourceType": "Observation", "id": f"o{index}", "status": "final", "code": {"text": "w"},
                        "valueQuantity": {"value": kg, "system": "http://unitsofmeasure.org", "code": "kg",
                                          "unit": "kilogram"}})
        return store

    @pytest.mark.parametrize("prefix, expected", [
        ("eq", {5.36, 5.4}), ("ne", {5.3, 5.45, 5.5}), ("gt", {5.45, 5.5}), ("sa", {5.45, 5.5}),
        ("lt", {5.3, 5.36}), ("eb", {5.3, 5.36}), ("ge", {5.4, 5.45, 5.5}), ("le", {5.3, 5.36, 5.4}),
        ("ap", {5.3, 5.36, 5.4, 5.45, 5.5}),
    ])
    def test_quantity_prefixes_use_the_implicit_precision_range(self, weighed, prefix, expected):
        found = ids(weighed, "Observation", ("value-quantity", f"{prefix}5.4"))
        assert {[5.3, 5.36, 5.4, 5.45, 5.5][int(i[1:])] for i in found} == expected

    def test_quantity_system_and_code_must_match_and_code_may_match_the_unit(self, weighed):
        assert ids(weighed, "Observation", ("value-quantity", "5.4|http://unitsofmeasure.org|kg")) == ["o1", "o2"]
        assert ids(weighed, "Observation", ("value-quantity", "5.4||kilogram")) == ["o1", "o2"]
        assert ids(weighed, "Observation", ("value-quantity", "5.4|urn:other|kg")) == []

    def test_missing_finds_resources_with_or_without_values(self, dated):
        assert ids(dated, "Patient", ("birthdate:missing", "true")) == ["none"]
        assert len(ids(dated, "Patient", ("birthdate:missing", "false"))) == 5

    def test_id_and_last_updated_are_served_from_the_resource(self, store):
        put(store, patient("a"), when=us(2020, 1, 1))
        put(store, patient("b"), when=us(2021, 1, 1))
        assert ids(store, "Patient", ("_id", "b,c")) == ["b"]
        assert ids(store, "Patient", ("_id:not", "b")) == ["a"]
        assert ids(store, "Patient", ("_lastUpdated", "ge2021")) == ["b"]
        assert ids(store, "Patient", ("_lastUpdated", "2020")) == ["a"]

    def test_tokens_match_by_system_and_code_and_not_negates(self, store):
        put(store, patient("a", identifier=[{"system": "urn:a", "value": "1"}]),
            patient("b", identifier=[{"value": "1"}]), patient("c"))
        assert ids(store, "Patient", ("identifier", "1")) == ["a", "b"]
        assert ids(store, "Patient", ("identifier", "urn:a|1")) == ["a"]
        assert ids(store, "Patient", ("identifier", "|1")) == ["b"]
        assert ids(store, "Patient", ("identifier", "urn:a|")) == ["a"]
        assert ids(store, "Patient", ("identifier:not", "urn:a|1")) == ["b", "c"]

    def test_token_text_matches_the_start_of_any_word_of_the_display(self, store):
        put(store, {"resourceType": "Observation", "id": "o", "status": "final",
                    "code": {"coding": [{"code": "1", "display": "Body Weight"}]}})
        for text, found in [("body", ["o"]), ("WEIG", ["o"]), ("eight", []), ("body w", ["o"])]:
            assert ids(store, "Observation", ("code:text", text)) == found, text

    def test_strings_match_by_prefix_exactly_or_anywhere(self, store):
        put(store, patient("a", name=[{"family": "Ångström"}]), patient("b", name=[{"family": "Angus"}]))
        assert ids(store, "Patient", ("family", "ang")) == ["a", "b"]
        assert ids(store, "Patient", ("family", "angst")) == ["a"]
        assert ids(store, "Patient", ("family:exact", "Ångström")) == ["a"]
        assert ids(store, "Patient", ("family:exact", "angström")) == []
        assert ids(store, "Patient", ("family:contains", "GUS")) == ["b"]

    def test_references_match_by_type_and_id_by_id_or_by_url(self, store):
        url = "https://other.example/fhir/Patient/p"
        put(store, *[{"resourceType": "Observation", "id": oid, "status": "final", "code": {"text": "x"},
                      "subject": {"reference": ref}}
                     for oid, ref in [("o1", "Patient/p"), ("o2", "Group/p"), ("o3", url)]])
        assert ids(store, "Observation", ("subject", "Patient/p")) == ["o1", "o3"]
        assert ids(store, "Observation", ("subject", "p")) == ["o1", "o2", "o3"]
        assert ids(store, "Observation", ("patient", "p")) == ["o1", "o3"]

    def test_uris_match_exactly_below_or_above(self, store):
        for vid, url in [("v1", "http://x.org/fhir/ValueSet/a"), ("v2", "http://x.org/fhir"),
                         ("v3", "http://y.org/ValueSet/a")]:
            put(store, {"resourceType": "ValueSet", "id": vid, "status": "draft", "url": url})
        assert ids(store, "ValueSet", ("url", "http://x.org/fhir")) == ["v2"]
        assert ids(store, "ValueSet", ("url:below", "http://x.org/fhir")) == ["v1", "v2"]
        assert ids(store, "ValueSet", ("url:above", "http://x.org/fhir/ValueSet/a/b")) == ["v1", "v2"]

    def test_a_chain_matches_through_a_live_target_of_the_chained_type(self, store):
        put(store, patient("p", name=[{"family": "Peters"}]),
            {"resourceType": "Location", "id": "p", "name": "Room"},
            {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
             "subject": {"reference": "Patient/p"}},
            {"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "x"},
             "subject": {"reference": "Location/p"}})
        assert ids(store, "Observation", ("subject:Patient.name", "peter")) == ["o1"]
        assert ids(store, "Observation", ("subject.name", "room")) == ["o2"]
        remove(store, "Patient", "p", T0 + 1)
        assert ids(store, "Observation", ("subject:Patient.name", "peter")) == []

    def test_and_across_parameters_or_within_one(self, dated):
        assert ids(dated, "Patient", ("birthdate", "2020-06-15,2020-05-20"), ("_id:not", "before")) == ["inside"]

    def test_sort_ascending_uses_the_least_value_and_descending_the_greatest_missing_last(self, store):
        put(store, patient("two", name=[{"given": ["b", "y"]}]), patient("none"),
            patient("one", name=[{"given": ["c", "z"]}]), patient("tie", name=[{"given": ["y", "b"]}]))
        assert ids(store, "Patient", ("_sort", "given")) == ["two", "tie", "one", "none"]
        assert ids(store, "Patient", ("_sort", "-given")) == ["one", "two", "tie", "none"]

    def test_later_sort_keys_break_ties_of_earlier_ones(self, store):
        put(store, patient("a", gender="male", birthDate="1990"), patient("b", gender="female", birthDate="1980"),
            patient("c", gender="male", birthDate="1970"))
        assert ids(store, "Patient", ("_sort", "gender,-birthdate")) == ["b", "a", "c"]
        assert ids(store, "Patient", ("_sort", "-_id")) == ["c", "b", "a"]

    def test_paging_and_totals(self, dated):
        with dated.unit_of_work(read_only=True) as uow:
            query = parse_search("Patient", [("_sort", "_id"), ("_count", "2"), ("_offset", "1")])
            page = uow.search(query)
            assert ([r.resource_id for r in page.items], page.total) == (["before", "inside"], 6)
            assert uow.search(parse_search("Patient", [("_total", "none")])).total is None
            counted = uow.search(parse_search("Patient", [("_summary", "count"), ("_total", "none")]))
            assert (counted.items, counted.total) == ([], 6)
            assert uow.search(parse_search("Patient", [("_count", "0")])).items == []

    def test_referenced_and_referencing_follow_index_rows_to_live_resources(self, store):
        put(store, patient("p"), {"resourceType": "Practitioner", "id": "d"},
            {"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"},
             "subject": {"reference": "Patient/p"}, "performer": [{"reference": "Practitioner/d"},
                                                                 {"reference": "Practitioner/gone"}]})
        with store.unit_of_work(read_only=True) as uow:
            (observation,) = uow.search(parse_search("Observation", [])).items
            (p,) = uow.read_many([("Patient", "p")])
            assert {r.key for r in uow.referenced([observation], None, None)} == {"Patient/p", "Practitioner/d"}
            assert [r.key for r in uow.referenced([observation], "performer", None)] == ["Practitioner/d"]
            assert [r.key for r in uow.referenced([observation], None, "Patient")] == ["Patient/p"]
            assert [r.key for r in uow.referencing("Observation", "subject", [p])] == ["Observation/o"]
            assert [r.key for r in uow.referencing(None, None, [p])] == ["Observation/o"]
            assert uow.referencing("Observation", "performer", [p]) == []


class TestVisibility:
    """Reads filtered by a Visibility, as the port documents (the SQL adapter's rules)."""

    @pytest.fixture
    def shared(self, store):
        def save(uow, resource_type, resource_id, *, institution, patient=None, sensitivity=None):
            uow.save([PendingWrite(resource_type, resource_id, 1, T0, "create", {"id": resource_id},
                                   institution=institution, patient=patient, sensitivity=sensitivity)])

        with store.unit_of_work() as uow:
            save(uow, "Patient", "p", institution="A", patient="p")
            save(uow, "Observation", "plain", institution="A", patient="p")
            save(uow, "Observation", "hiv", institution="A", patient="p", sensitivity="HIV")
            save(uow, "AuditEvent", "audit", institution="A", patient="p")
            save(uow, "Organization", "org", institution="A")
            save(uow, "Patient", "q", institution="B", patient="q")
            uow.commit()
        return store

    def visible(self, store, visibility, resource_type=None) -> set[str]:
        with store.unit_of_work(read_only=True, visibility=visibility) as uow:
            page = uow.history(resource_type=resource_type, resource_id=None, since_us=None, count=100, offset=0)
            return {r.resource_id for r in page.items}

    def consent(self, store, rules) -> None:
        with store.unit_of_work() as uow:
            uow.replace_consent_rules("p", rules)
            uow.commit()

    def test_no_visibility_sees_everything(self, shared):
        assert self.visible(shared, None) == {"p", "plain", "hiv", "audit", "org", "q"}

    def test_another_institution_sees_shared_data_but_not_sensitive_or_private_data(self, shared):
        assert self.visible(shared, Visibility(institution="B")) == {"p", "plain", "org", "q"}
        assert self.visible(shared, Visibility(institution="A")) == {"p", "plain", "hiv", "audit", "org", "q"}

    def test_a_deny_rule_hides_the_patients_data_from_other_institutions(self, shared):
        self.consent(shared, {("*", "*", "deny")})
        assert self.visible(shared, Visibility(institution="B")) == {"org", "q"}
        assert self.visible(shared, Visibility(institution="A")) >= {"p", "plain", "hiv"}

    def test_a_category_permit_shares_sensitive_data(self, shared):
        self.consent(shared, {("B", "HIV", "permit")})
        assert "hiv" in self.visible(shared, Visibility(institution="B"))
        assert "hiv" not in self.visible(shared, Visibility(institution="C"))

    def test_opt_in_shares_nothing_without_a_permit(self, shared):
        assert self.visible(shared, Visibility(institution="B", consent_default="opt-in")) == {"org", "q"}
        self.consent(shared, {("B", "*", "permit")})
        opt_in = Visibility(institution="B", consent_default="opt-in")
        assert self.visible(shared, opt_in) == {"p", "plain", "org", "q"}

    def test_break_glass_sees_sensitive_data_but_not_private_types(self, shared):
        self.consent(shared, {("*", "*", "deny")})
        seen = self.visible(shared, Visibility(institution="B", break_glass=True))
        assert seen == {"p", "plain", "hiv", "org", "q"}

    def test_a_patient_compartment_sees_only_that_patient_and_directory_data(self, shared):
        assert self.visible(shared, Visibility(patient="q")) == {"q", "org"}
        assert self.visible(shared, Visibility(patient="q", linked_patients=("p",))) == {
            "p", "plain", "hiv", "audit", "org", "q"}

    def test_visibility_applies_to_read_search_and_includes_but_not_current(self, shared):
        with shared.unit_of_work(read_only=True, visibility=Visibility(patient="q")) as uow:
            assert uow.read("Patient", "p") is None and uow.current("Patient", "p") is not None
            assert uow.read_many([("Patient", "p"), ("Patient", "q")])[0].resource_id == "q"
            assert [r.resource_id for r in uow.search(parse_search("Patient", [])).items] == ["q"]

    def test_consent_rules_are_transactional(self, shared):
        with shared.unit_of_work() as uow:
            uow.replace_consent_rules("p", {("*", "*", "deny")})
        assert "plain" in self.visible(shared, Visibility(institution="B"))
