"""Fellegi–Sunter model: EM recovers known parameters; explanations; decisions on hard cases."""

from __future__ import annotations

import json
import random

import pytest

from engine.identity import FieldEvidence, MatchModel, MatchSettings, PersonRecord, person_from_patient
from engine.identity.comparisons import FIELDS, level_index

SSN = "http://hl7.org/fhir/sid/us-ssn"
RATES = {"given": 0.10, "family": 0.15, "birth_date": 0.08, "postcode": 0.12}


def _pool(rng: random.Random, size: int) -> list[str]:
    names: set[str] = set()
    while len(names) < size:
        names.add(
            "".join(
                rng.choice("bcdfghjklmnpqrstvwxz") + rng.choice("aeiou") for _ in range(rng.randint(3, 4))
            )
        )
    return sorted(names)


def known_corruption_dataset() -> tuple[list[PersonRecord], dict[str, float]]:
    """Source A: 4,000 people; source B: half of them again, each field replaced at a known rate.

    Values are uniform over their pools, so u(exact) is 1 / pool size; m(exact) is 1 - rate.
    """
    rng = random.Random(5)
    given, family = _pool(rng, 400), _pool(rng, 600)
    postcodes = sorted({f"{rng.randrange(10000, 99999)}" for _ in range(300)})

    def draw() -> dict:
        return {
            "given": rng.choice(given),
            "family": rng.choice(family),
            "postcode": rng.choice(postcodes),
            "birth_date": f"{rng.randint(1940, 1999)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        }

    def record(record_id: str, source: str, values: dict) -> PersonRecord:
        return PersonRecord(
            record_id=record_id,
            source=source,
            given=(values["given"],),
            family=values["family"],
            birth_date=values["birth_date"],
            postcode=values["postcode"],
        )

    records = []
    for n in range(4000):
        values = draw()
        records.append(record(f"a{n}", "A", values))
        if n % 2 == 0:
            copy = dict(values)
            for field, rate in RATES.items():
                if rng.random() < rate:
                    while copy[field] == values[field]:
                        copy[field] = draw()[field]
            records.append(record(f"b{n}", "B", copy))
    u_exact = {
        "given": 1 / len(given),
        "family": 1 / len(family),
        "postcode": 1 / len(postcodes),
        "birth_date": 1 / (60 * 12 * 28),
    }
    return records, u_exact


def test_em_recovers_known_m_and_u():
    records, u_exact = known_corruption_dataset()
    model = MatchModel.train(records, settings=MatchSettings(link_within_source=False), random_pairs=400_000)
    assert model.training["em_converged"]
    for field, rate in RATES.items():
        exact = level_index(field, "exact")
        assert model.m[field][exact] == pytest.approx(1 - rate, abs=0.03), field
        tolerance = 0.6 if field == "birth_date" else 0.25  # ~20 sightings of a 1-in-20,000 coincidence
        assert model.u[field][exact] == pytest.approx(u_exact[field], rel=tolerance), field
    # 2,000 true pairs among 4,000 x 2,000 cross-source pairs
    assert model.lambda_ == pytest.approx(2000 / (4000 * 2000), rel=0.2)


def full(record_id: str, **changes) -> PersonRecord:
    base = dict(
        record_id=record_id,
        source="hospital-a",
        given=("Anna",),
        family="Kowalczyk",
        birth_date="1980-05-01",
        sex="female",
        postcode="02139",
        address="12 Kirkland Street",
        city="Cambridge",
        phone="617-555-0142",
    )
    base.update(changes)
    return PersonRecord(**base)


def test_explanation_sums_to_the_weight(trained_model):
    pairs = [
        (full("a"), full("b", source="hospital-b")),
        (full("a"), full("b", given=("Ana",), birth_date="1980-01-05", phone=None)),
        (full("a"), full("b", given=("Maria",))),
        (full("a"), PersonRecord(record_id="b", source="x", family="Kowalczyk")),
    ]
    for left, right in pairs:
        scored = trained_model.score(left, right)
        assert sum(e.weight for e in scored.evidence) == pytest.approx(scored.weight, abs=1e-9)
        assert scored.probability == pytest.approx(1 / (1 + 2**-scored.weight))
        fields = [e.field for e in scored.evidence]
        assert fields[0] == "prior" and set(spec.name for spec in FIELDS) <= set(fields)
        assert all(isinstance(e, FieldEvidence) for e in scored.evidence)
        assert all(e.weight == 0 for e in scored.evidence if e.level == "null")
        assert (scored.left_id, scored.right_id) == ("a", "b")


def test_same_person_in_two_sources_is_a_match(trained_model):
    scored = trained_model.score(full("a"), full("b", source="hospital-b", given=("Ana",), phone=None))
    assert scored.decision == "match", scored


def test_missing_values_are_neutral(trained_model):
    complete = trained_model.score(full("a"), full("b"))
    without_phone = trained_model.score(full("a"), full("b", phone=None))
    phone = {e.field: e for e in complete.evidence}["phone"]
    assert {e.field: e for e in without_phone.evidence}["phone"] == FieldEvidence("phone", "null", 0.0)
    assert phone.weight > 0


def test_impossible_birth_date_is_neutral(trained_model):
    scored = trained_model.score(full("a", birth_date="2019-02-30"), full("b", birth_date="2019-02-28"))
    birth = {e.field: e for e in scored.evidence}["birth_date"]
    assert birth == FieldEvidence("birth_date", "null", 0.0)


def test_common_family_names_weigh_less(trained_model):
    frequencies = trained_model.term_frequencies["family"]
    common = max(frequencies, key=frequencies.get)
    rare = "Qwxyzzyk"

    def family_weight(name: str) -> float:
        scored = trained_model.score(PersonRecord("a", "s", family=name), PersonRecord("b", "t", family=name))
        return {e.field: e.weight for e in scored.evidence}["family"]

    assert family_weight(common) < family_weight(rare) - 3


def test_twins_are_not_matched(trained_model):
    anna = full("a", given=("Anna",))
    maria = full("b", given=("Maria",), source="hospital-b")
    scored = trained_model.score(anna, maria)
    assert scored.decision == "no-match", scored
    assert {e.field: e.level for e in scored.evidence}["given"] == "different"
    # boy-girl twins, and twins with their own identifiers, even less so
    assert trained_model.score(anna, full("b", given=("Adam",), sex="male")).decision == "no-match"
    with_ids = trained_model.score(
        full("a", identifiers=((SSN, "123-45-6789"),)),
        full("b", given=("Maria",), identifiers=((SSN, "987-65-4321"),)),
    )
    assert with_ids.decision == "no-match"


@pytest.mark.parametrize(
    "first, second, second_sex",
    [
        ("Ronald", "Donald", "female"),  # one letter apart, but not the first letter's slip
        ("Carol", "Charles", "male"),  # similar names, boy-girl
        ("Daniel", "Danielle", "male"),  # close names, boy-girl
        ("Evelyn", "Beverly", "female"),
        ("Ken", "Kevn", "female"),  # a nickname and a typo of two short names
    ],
)
def test_twins_with_similar_names_are_not_matched(trained_model, first, second, second_sex):
    one = full("a", given=(first,), sex="female")
    other = full("b", given=(second,), sex=second_sex, source="hospital-b")
    scored = trained_model.score(one, other)
    assert scored.decision == "no-match", scored
    assert {e.field: e.weight for e in scored.evidence}["given"] == trained_model.settings.conflict_weights["given"]
    # twins apart (one of them moved, no phone): same family name and birth date still guard the given name
    moved = full("b", given=(second,), sex=second_sex, postcode="60601", address="9 Lake Shore Drive",
                 city="Chicago", phone=None)
    assert trained_model.score(full("a", given=(first,), sex="female", phone=None), moved).decision == "no-match"
    # a twin guard does not stand against the same identifier
    ssn = ((SSN, "123-45-6789"),)
    vouched = trained_model.score(
        full("a", given=(first,), identifiers=ssn), full("b", given=(second,), identifiers=ssn)
    )
    assert {e.field: e.weight for e in vouched.evidence}["given"] > trained_model.settings.conflict_weights["given"]


@pytest.mark.parametrize("typo", ["Katherien", "Kathrine", "Ana"])
def test_a_typo_in_the_given_name_within_a_household_still_matches(trained_model, typo):
    scored = trained_model.score(full("a", given=("Katherine" if typo != "Ana" else "Anna",)),
                                 full("b", given=(typo,), source="hospital-b"))
    assert scored.decision == "match", scored


def test_a_move_counts_once(trained_model):
    moved = full("b", source="hospital-b", postcode="60601", address="9 Lake Shore Drive", city="Chicago")
    scored = trained_model.score(full("a", phone=None), moved)
    evidence = {e.field: e for e in scored.evidence}
    against = [evidence[f].weight for f in ("postcode", "address", "city")]
    assert all(w < 0 for w in against)
    assert evidence["location"].weight == pytest.approx(min(against) - sum(against))
    assert scored.weight == pytest.approx(sum(e.weight for e in scored.evidence))
    assert scored.decision == "match", scored
    plain = MatchSettings(location_once=False)
    without = MatchModel.from_dict({**trained_model.to_dict(), "settings": plain.to_dict()}).score(
        full("a", phone=None), moved
    )
    assert "location" not in {e.field for e in without.evidence}
    assert without.weight == pytest.approx(scored.weight - evidence["location"].weight)


def test_household_blocking_keys_blank_every_household_field_in_training():
    from engine.identity.comparisons import FIELD_INDEX
    from engine.identity.model import blocked_fields

    household = {"family", "postcode", "address", "city", "phone"}
    names = {k: name for name, k in FIELD_INDEX.items()}
    assert {names[k] for k in blocked_fields(("given_initial", "postcode"))} == household | {"given"}
    assert {names[k] for k in blocked_fields(("phone",))} == household
    assert {names[k] for k in blocked_fields(("family_soundex", "birth_year"))} == {"family", "birth_date"}


@pytest.mark.parametrize("son_birth_date", ["2005-09-30", "2005-05-01"])
def test_father_and_son_are_not_matched(trained_model, son_birth_date):
    father = full("a", given=("John",), sex="male", birth_date="1980-05-01", suffix="Sr")
    son = full("b", given=("John",), sex="male", birth_date=son_birth_date, suffix="Jr", source="hospital-b")
    scored = trained_model.score(father, son)
    assert scored.decision == "no-match", scored
    evidence = {e.field: e for e in scored.evidence}
    assert evidence["birth_date"].level == "different" and evidence["birth_date"].weight <= -20
    # without suffixes the birth date alone decides
    plain = trained_model.score(
        full("a", given=("John",), sex="male", birth_date="1980-05-01"),
        full("b", given=("John",), sex="male", birth_date=son_birth_date),
    )
    assert plain.decision == "no-match", plain


def test_a_shared_identifier_overrides_a_birth_date_conflict(trained_model):
    left = full("a", identifiers=((SSN, "123-45-6789"),))
    right = full("b", birth_date="1960-11-23", identifiers=((SSN, "123456789"),))
    scored = trained_model.score(left, right)
    assert scored.decision == "match"
    assert -20 < {e.field: e.weight for e in scored.evidence}["birth_date"] < 0


def test_records_with_almost_nothing_never_match(trained_model):
    name_only = PersonRecord("a", "s", given=("Anna",), family="Kowalczyk")
    assert (
        trained_model.score(name_only, PersonRecord("b", "t", given=("Anna",), family="Kowalczyk")).decision
        != "match"
    )
    assert trained_model.score(name_only, full("b")).decision != "match"
    id_only = PersonRecord("c", "s", identifiers=((SSN, "123-45-6789"),))
    assert trained_model.score(id_only, full("d", identifiers=((SSN, "123-45-6789"),))).decision != "match"
    assert (
        trained_model.score(id_only, PersonRecord("e", "t", identifiers=((SSN, "123456789"),))).decision
        != "match"
    )


def test_unicode_records_score_without_error(trained_model):
    left = PersonRecord("a", "s", given=("José",), family="Núñez", birth_date="1975-02-10", city="Bogotá")
    right = PersonRecord("b", "t", given=("JOSE",), family="NUNEZ", birth_date="1975-02-10", city="BOGOTA")
    levels = {e.field: e.level for e in trained_model.score(left, right).evidence}
    assert levels["given"] == levels["family"] == levels["city"] == "exact"
    scripts = [("王", "小明"), ("Иванов", "Пётр"), ("محمد", "علي"), ("Παπαδόπουλος", "Γιώργος"), ("", "")]
    for family, given in scripts:
        scored = trained_model.score(
            PersonRecord("x", "s", given=(given,), family=family or None),
            PersonRecord("y", "t", given=(given,), family=family or None),
        )
        assert scored.decision in ("match", "possible", "no-match")


def test_model_round_trips_through_json(trained_model):
    data = json.loads(json.dumps(trained_model.to_dict()))
    again = MatchModel.from_dict(data)
    left, right = full("a"), full("b", given=("Ana",), birth_date="1980-01-05")
    assert again.score(left, right).weight == pytest.approx(trained_model.score(left, right).weight)
    assert again.settings == trained_model.settings
    rare = [
        v
        for v, f in data["term_frequencies"]["family"].items()
        if f * trained_model.training["records"] < trained_model.settings.tf_min_count - 0.5
    ]
    assert not rare  # the saved frequency table only holds values seen at least tf_min_count times


def test_settings_round_trip_and_validation():
    settings = MatchSettings(
        match_probability=0.995,
        review_probability=0.4,
        max_block_size=100,
        blocking_rules=(("family_soundex", "birth_year"), ("identifier",)),
    )
    assert MatchSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
    with pytest.raises(ValueError):
        MatchSettings(blocking_rules=(("shoe_size",),))
    with pytest.raises(ValueError):
        MatchSettings(match_probability=0.5, review_probability=0.9)
    with pytest.raises(ValueError):
        MatchSettings.from_dict({"colour": "red"})


def test_untrained_model_scores_with_priors():
    model = MatchModel()
    assert model.score(full("a"), full("b")).decision == "match"
    assert model.score(full("a"), full("b", given=("Maria",))).decision == "no-match"


def test_person_from_patient():
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [
            {"system": SSN, "value": "123-45-6789"},
            {"system": "urn:mrn", "value": " 0042 "},
            {"system": "urn:x"},
        ],
        "name": [
            {"use": "old", "family": "Maiden", "given": ["Ann"]},
            {"use": "official", "family": "Smith", "given": ["Mary", "Ann"], "suffix": ["Jr."]},
        ],
        "gender": "female",
        "birthDate": "1970-04-03",
        "address": [
            {"use": "old", "line": ["1 Old Road"], "postalCode": "00000", "city": "Past"},
            {"use": "home", "line": ["12 Main St", "Apt 4"], "postalCode": "02139", "city": "Cambridge"},
        ],
        "telecom": [
            {"system": "email", "value": "mary@example.org"},
            {"system": "phone", "value": "555-0100", "use": "home"},
            {"system": "phone", "value": "555-0199", "use": "mobile"},
        ],
    }
    record = person_from_patient(patient, source="hospital-a")
    assert record == PersonRecord(
        record_id="p1",
        source="hospital-a",
        given=("Mary", "Ann"),
        family="Smith",
        birth_date="1970-04-03",
        sex="female",
        postcode="02139",
        address="12 Main St Apt 4",
        city="Cambridge",
        phone="555-0199",
        email="mary@example.org",
        identifiers=((SSN, "123-45-6789"), ("urn:mrn", "0042")),
        suffix="Jr.",
    )
    empty = person_from_patient({"resourceType": "Patient", "id": "e"}, source="s")
    assert empty.given == () and empty.family is None and empty.identifiers == ()
    text_only = person_from_patient(
        {"resourceType": "Patient", "name": [{"text": "Jean Paul Sartre"}]}, source="s"
    )
    assert text_only.given == ("Jean", "Paul") and text_only.family == "Sartre"
