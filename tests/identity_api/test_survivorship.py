"""Survivorship rules of golden records and who may read a golden Patient: small known cases, no I/O."""
from __future__ import annotations

import pytest

from engine.fhir.validation import validate_resource
from engine.identity.access import Member, golden_rules, member_visible
from engine.identity.golden_writes import golden_version
from engine.identity.golden import field_provenance, golden_patient
from engine.identity.survivorship import SurvivorshipPolicy, choose
from engine.store.model import StoredResource


def _patient(pid: str, updated: int, source: str | None = None, **fields) -> StoredResource:
    body = {"resourceType": "Patient", "id": pid, **fields}
    if source:
        body["meta"] = {"source": source}
    return StoredResource("Patient", pid, 1, updated, False, "create", body)


SHORT = [{"family": "Lee"}]
LONG = [{"family": "Lee", "given": ["Thomas", "J"], "prefix": ["Mr"]}]
OLD = _patient("a", 100, name=LONG, telecom=[{"system": "phone", "value": "1"}])
NEW = _patient("b", 300, name=SHORT, telecom=[{"system": "phone", "value": "2"}])
MIDDLE = _patient("c", 200, name=SHORT, gender="male")
INSTITUTIONS = {"a": "county-lab", "b": "city-clinic", "c": "general-hospital"}


def test_most_complete_takes_the_longest_value_and_breaks_ties_by_recency():
    policy = SurvivorshipPolicy.from_setting({"default": "most-complete"})
    chosen = choose("name", [OLD, NEW, MIDDLE], policy, INSTITUTIONS)
    assert (chosen.source.resource_id, chosen.rule, chosen.value) == ("a", "most-complete", LONG)
    tie = choose("name", [NEW, MIDDLE], policy, INSTITUTIONS)  # same value length: the newer wins
    assert tie.source.resource_id == "b"


def test_most_recent_takes_the_newest_member_that_has_a_value():
    policy = SurvivorshipPolicy.from_setting({"default": "most-recent"})
    assert choose("name", [OLD, NEW, MIDDLE], policy, INSTITUTIONS).source.resource_id == "b"
    gender = choose("gender", [OLD, NEW, MIDDLE], policy, INSTITUTIONS)  # only c has one
    assert (gender.source.resource_id, gender.value, gender.rule) == ("c", "male", "most-recent")
    assert choose("birthDate", [OLD, NEW, MIDDLE], policy, INSTITUTIONS) is None


def test_trusted_source_follows_the_order_and_falls_back_to_the_next_rule():
    policy = SurvivorshipPolicy.from_setting({"default": ["trusted-source", "most-recent"]},
                                             ["general-hospital", "county-lab"])
    name = choose("name", [OLD, NEW, MIDDLE], policy, INSTITUTIONS)
    assert (name.source.resource_id, name.rule) == ("c", "trusted-source")  # general-hospital first
    telecom = choose("telecom", [OLD, NEW, MIDDLE], policy, INSTITUTIONS)  # c has none: county-lab next
    assert (telecom.source.resource_id, telecom.rule) == ("a", "trusted-source")
    untrusted = choose("telecom", [NEW], policy, INSTITUTIONS)  # no trusted source has it: next rule
    assert (untrusted.source.resource_id, untrusted.rule) == ("b", "most-recent")


def test_trusted_source_matches_meta_source_and_ties_go_to_the_next_rule():
    x = _patient("x", 100, source="urn:lab", name=LONG)
    y = _patient("y", 900, source="urn:lab", name=SHORT)
    z = _patient("z", 999, name=SHORT)
    recent = SurvivorshipPolicy.from_setting({"name": ["trusted-source", "most-recent"]}, ["urn:lab"])
    assert choose("name", [x, y, z], recent, {}).source.resource_id == "y"
    complete = SurvivorshipPolicy.from_setting({"name": "trusted-source"}, ["urn:lab"])  # then most-complete
    assert choose("name", [x, y, z], complete, {}).source.resource_id == "x"


def test_choice_elements_are_one_field_so_a_golden_record_never_gets_both():
    alive = _patient("p", 500, deceasedBoolean=False)
    dead = _patient("q", 100, deceasedDateTime="2020-01-01")
    body = golden_patient("g", [alive, dead], SurvivorshipPolicy.from_setting({"default": "most-recent"}))
    assert body["deceasedBoolean"] is False and "deceasedDateTime" not in body
    assert field_provenance(body)["deceasedBoolean"] == {"source": "Patient/p", "rule": "most-recent"}


def test_golden_patient_records_source_and_rule_of_every_field():
    policy = SurvivorshipPolicy.from_setting({"default": "most-complete", "telecom": "most-recent"})
    body = golden_patient("g", [OLD, NEW, MIDDLE], policy, INSTITUTIONS)
    assert body["meta"]["tag"][0]["code"] == "GOLDEN_RECORD" and body["meta"]["source"] == "urn:tessera:mdm"
    assert field_provenance(body) == {"name": {"source": "Patient/a", "rule": "most-complete"},
                                      "telecom": {"source": "Patient/b", "rule": "most-recent"},
                                      "gender": {"source": "Patient/c", "rule": "most-complete"}}
    assert [link["other"]["reference"] for link in body["link"]] == ["Patient/a", "Patient/b", "Patient/c"]
    assert {link["type"] for link in body["link"]} == {"seealso"}


@pytest.mark.parametrize("rule", ["most-recent", "most-complete", "trusted-source"])
def test_stored_golden_patients_are_valid_fhir_whatever_their_members(rule):
    members = [
        _patient("p", 500, source="urn:a", deceasedBoolean=False, multipleBirthInteger=2, name=LONG,
                 identifier=[{"system": "urn:mrn", "value": "1"}], communication=[{"language": {"text": "en"}}],
                 maritalStatus={"text": "M"}, address=[{"city": "Cambridge"}]),
        _patient("q", 100, source="urn:b", deceasedDateTime="2020-01-01", multipleBirthBoolean=True, name=SHORT,
                 identifier=[{"system": "urn:mrn", "value": "2"}], gender="female", birthDate="1980-03-12"),
    ]
    policy = SurvivorshipPolicy.from_setting({"default": rule, "multipleBirth": "most-recent"}, ["urn:b"])
    stored = golden_version(golden_patient("g-1", members, policy), None, 1_700_000_000_000_000)
    assert validate_resource(dict(stored.body)) == "Patient"
    assert {"deceasedBoolean", "deceasedDateTime"} & set(stored.body) != {"deceasedBoolean", "deceasedDateTime"}
    assert stored.body["multipleBirthInteger"] == 2 and "multipleBirthBoolean" not in stored.body
    assert stored.patient == "g-1" and stored.institution is None and stored.source == "urn:tessera:mdm"
    assert not [row for row in stored.index.tokens if row[0] == "identifier"]  # members' identifiers
    assert ("_tag", "urn:tessera:mdm", "GOLDEN_RECORD") in [row[:3] for row in stored.index.tokens]


@pytest.mark.parametrize("setting, message", [
    ({"nickname": "most-recent"}, "unknown field 'nickname'"),
    ({"default": "newest"}, "rule must be one of"),
    ({"telecom": []}, "rule must be one of"),
])
def test_bad_settings_name_the_field_or_rule(setting, message):
    with pytest.raises(ValueError, match=message):
        SurvivorshipPolicy.from_setting(setting)


def _visible_to(rules, institution, consent_default):
    """A golden Patient (owned by no one, unlabelled) under `rules`, as the store's filter sees it."""
    return member_visible(Member(None, None, frozenset(rules)), institution, consent_default)


@pytest.mark.parametrize("consent_default", ["opt-out", "opt-in"])
def test_a_golden_patient_is_readable_exactly_where_every_member_is(consent_default):
    open_to_all = {("*", "*", "permit")}
    members = {
        "a": Member("general-hospital", None, frozenset(open_to_all)),
        "b": Member("city-clinic", None, frozenset(open_to_all | {("general-hospital", "*", "deny")})),
    }
    rules = golden_rules(members, consent_default)
    for institution in ("general-hospital", "city-clinic", "county-lab"):
        expected = all(member_visible(m, institution, consent_default) for m in members.values())
        assert _visible_to(rules, institution, consent_default) == expected, institution
    assert not _visible_to(rules, "general-hospital", consent_default)
    assert _visible_to(rules, "city-clinic", consent_default)


def test_a_member_hidden_from_everyone_else_hides_the_golden_patient_from_everyone():
    members = {"a": Member("general-hospital", None, frozenset({("*", "*", "deny")})),
               "b": Member("city-clinic", None, frozenset())}
    rules = golden_rules(members, "opt-out")
    assert rules == {("*", "*", "deny")}
    assert not any(_visible_to(rules, i, "opt-out") for i in ("general-hospital", "city-clinic", "county-lab"))
    labelled = {"a": Member("general-hospital", "HIV", frozenset()), "b": Member("city-clinic", None, frozenset())}
    assert not _visible_to(golden_rules(labelled, "opt-out"), "city-clinic", "opt-out")
