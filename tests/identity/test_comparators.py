"""Field comparators on small known cases: string similarity, dates, nicknames, contacts, unicode."""

from __future__ import annotations

import random

import numpy as np
import pytest

from engine.identity import PersonRecord
from engine.identity.comparisons import compare_records
from engine.identity.dates import MISSING, parse_birth_date
from engine.identity.nicknames import are_nicknames
from engine.identity.normalize import (
    address_tokens,
    fold,
    normalize_email,
    normalize_phone,
    normalize_postcode,
    soundex,
)
from engine.identity.strings import (
    encode,
    jaro_winkler,
    jaro_winkler_many,
    within_one_edit,
    within_one_edit_many,
)


def person(record_id: str = "x", **fields) -> PersonRecord:
    return PersonRecord(record_id=record_id, source=fields.pop("source", "s"), **fields)


def level(field: str, left: dict, right: dict) -> str:
    return compare_records(person("a", **left), person("b", **right))[field]


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("MARTHA", "MARHTA", 0.961),
        ("DWAYNE", "DUANE", 0.840),
        ("DIXON", "DICKSONX", 0.813),
        ("JONES", "JOHNSON", 0.832),
        ("ABC", "ABC", 1.0),
        ("ABC", "XYZ", 0.0),
        ("", "ABC", 0.0),
    ],
)
def test_jaro_winkler_known_values(a, b, expected):
    assert jaro_winkler(a, b) == pytest.approx(expected, abs=0.0005)
    codes_a, len_a = encode([a], 16)
    codes_b, len_b = encode([b], 16)
    assert jaro_winkler_many(codes_a, len_a, codes_b, len_b)[0] == pytest.approx(expected, abs=0.0005)


def test_vectorised_string_measures_agree_with_the_scalar_ones():
    rng = random.Random(3)
    alphabet = "abcdeéßж王"
    left = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 11))) for _ in range(3000)]
    right = [
        w[:2] + w[3:]
        if rng.random() < 0.3
        else "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 11)))
        for w in left
    ]
    a, la = encode(left, 24)
    b, lb = encode(right, 24)
    ra, _ = encode([w[::-1] for w in left], 24)
    rb, _ = encode([w[::-1] for w in right], 24)
    expected = np.array([jaro_winkler(x, y) for x, y in zip(left, right)])
    assert np.abs(jaro_winkler_many(a, la, b, lb) - expected).max() < 1e-12
    assert (
        within_one_edit_many(a, ra, la, b, rb, lb)
        == np.array([within_one_edit(x, y) for x, y in zip(left, right)])
    ).all()


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("123456789", "123456789", True),
        ("123456789", "123456780", True),
        ("123456789", "213456789", True),
        ("123456789", "12345679", True),
        ("123456789", "1234567890", True),
        ("123456789", "123456798", True),
        ("123456789", "123456700", False),
        ("123456789", "321456789", False),
        ("1234", "12", False),
    ],
)
def test_within_one_edit(a, b, expected):
    assert within_one_edit(a, b) is expected


def test_birth_date_parsing_and_impossible_dates():
    assert parse_birth_date("1980-05-03") == (1980, 5, 3)
    assert parse_birth_date("19800503") == (1980, 5, 3)
    assert parse_birth_date("1980-05") == (1980, 5, 0)
    assert parse_birth_date("1980") == (1980, 0, 0)
    for bad in ("2019-02-30", "1980-13-01", "1980-00-10", "yesterday", "", None, "0000-01-01"):
        assert parse_birth_date(bad) == MISSING
    assert parse_birth_date("2020-02-29") == (2020, 2, 29)


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("1980-05-03", "1980-05-03", "exact"),
        ("1980-05-03", "1980-03-05", "transposed"),
        ("1980-05-03", "1980-05-04", "day_month_off"),
        ("1980-05-03", "1980-06-03", "day_month_off"),
        ("1980-05-03", "1981-05-03", "year_off"),
        ("1980-05-03", "1988-05-03", "year_off"),  # last digit mistyped
        ("1958-05-03", "1988-05-03", "different"),  # one digit apart, but a generation too
        ("1957-10-24", "1957-12-04", "day_month_off"),  # digits swapped across month and day
        ("1950-03-12", "1975-03-12", "different"),  # a generation apart, same birthday
        ("1950-03-12", "1975-08-30", "different"),
        ("1980-05-03", "1980-07-09", "different"),
        ("1980", "1980-05-03", "partial"),
        ("1980-05", "1980-05-03", "partial"),
        ("1980", "1975-05-03", "different"),
        ("2019-02-30", "2019-02-28", "null"),  # impossible date: neutral
        (None, "1980-05-03", "null"),
    ],
)
def test_birth_date_levels(a, b, expected):
    assert level("birth_date", {"birth_date": a}, {"birth_date": b}) == expected


@pytest.mark.parametrize(
    "a, b",
    [("Bob", "Robert"), ("Bill", "William"), ("Peggy", "Margaret"), ("Liz", "Elizabeth"), ("Pepe", "José")],
)
def test_nicknames(a, b):
    assert are_nicknames(a, b)
    assert level("given", {"given": (a,)}, {"given": (b,)}) == "nickname"


def test_names_that_are_not_nicknames():
    assert not are_nicknames("Robert", "William")
    assert level("given", {"given": ("Robert",)}, {"given": ("William",)}) == "different"


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("Martha", "Marhta", "close"),
        ("Jon", "Jonathan", "nickname"),
        ("J.", "John", "partial"),  # initial only
        ("Anne", "Marie", "different"),
        ("Mary Ann", "Maryann", "exact"),
    ],
)
def test_given_name_levels(a, b, expected):
    assert level("given", {"given": (a,)}, {"given": (b,)}) == expected


def test_middle_name_used_as_first_name_is_partial():
    assert level("given", {"given": ("John", "Paul")}, {"given": ("Paul",)}) == "partial"


def test_given_and_family_swapped():
    left, right = {"given": ("Dakin",), "family": "Joselyn"}, {"given": ("Joselyn",), "family": "Dakin"}
    assert level("given", left, right) == "swapped"


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("Smith", "SMITH", "exact"),
        ("Johnson", "Jonhson", "close"),
        ("Smith", "Smyth", "phonetic"),
        ("García López", "Garcia", "token"),
        ("O'Brien", "OBrien", "exact"),
        ("Smith", "Jones", "different"),
        ("Smith Jr", "Smith", "exact"),
    ],
)
def test_family_name_levels(a, b, expected):
    assert level("family", {"family": a}, {"family": b}) == expected


def test_suffix_in_family_name_is_separated():
    levels = compare_records(person("a", family="Smith Jr"), person("b", family="Smith", suffix="Sr."))
    assert levels["family"] == "exact" and levels["suffix"] == "different"


def test_phone_normalisation():
    assert normalize_phone("+1 (555) 010-9999") == "5550109999"
    assert normalize_phone("555.010.9999") == "5550109999"
    assert normalize_phone("+44 20 7946 0018") == normalize_phone("020 7946 0018")
    assert normalize_phone("12345") is None
    assert level("phone", {"phone": "+1 (555) 010-9999"}, {"phone": "5550109999"}) == "exact"
    assert level("phone", {"phone": "555-010-9999"}, {"phone": "555-010-9998"}) == "typo"
    assert level("phone", {"phone": "555-010-9999"}, {"phone": "212-010-9999"}) == "partial"
    assert level("phone", {"phone": "555-010-9999"}, {"phone": "212-444-1234"}) == "different"


def test_email_normalisation():
    assert normalize_email(" John.Smith+clinic@GoogleMail.com ") == "johnsmith@gmail.com"
    assert normalize_email("not an address") is None
    assert level("email", {"email": "j.smith@example.org"}, {"email": "J.Smith@example.org"}) == "exact"
    assert level("email", {"email": "jsmith@example.org"}, {"email": "jsmith@other.net"}) == "local"
    assert level("email", {"email": "jsmith@example.org"}, {"email": "jsmiht@example.org"}) == "typo"


def test_address_levels():
    assert address_tokens("12 Main Street, Apt 4") == ("12", "main", "st", "unit", "4")
    assert level("address", {"address": "12 Main Street"}, {"address": "12 MAIN ST"}) == "exact"
    assert (
        level("address", {"address": "12 Main Street Springfield"}, {"address": "12 Main Road Springfield"})
        == "high"
    )
    assert level("address", {"address": "12 Main Street"}, {"address": "40 Main Street"}) == "medium"
    assert level("address", {"address": "12 Main Street"}, {"address": "12 Oak Street"}) == "different"


def test_postcode_levels():
    assert normalize_postcode("02139-4307") == "02139"
    assert normalize_postcode("sw1a 1aa") == "SW1A1AA"
    assert level("postcode", {"postcode": "02139"}, {"postcode": "02139-4307"}) == "exact"
    assert level("postcode", {"postcode": "02139"}, {"postcode": "02193"}) == "typo"
    assert level("postcode", {"postcode": "02139"}, {"postcode": "02177"}) == "prefix"
    assert level("postcode", {"postcode": "02139"}, {"postcode": "94105"}) == "different"


def test_identifier_levels():
    ssn, oid = "http://hl7.org/fhir/sid/us-ssn", "urn:oid:2.16.840.1.113883.4.1"
    mrn = "http://hospital.example/mrn"
    assert (
        level("identifier", {"identifiers": ((ssn, "123-45-6789"),)}, {"identifiers": ((oid, "123456789"),)})
        == "exact"
    )
    assert (
        level(
            "identifier", {"identifiers": ((ssn, "123-45-6789"),)}, {"identifiers": ((ssn, "123-45-6798"),)}
        )
        == "typo"
    )
    assert (
        level(
            "identifier", {"identifiers": ((ssn, "123-45-6789"),)}, {"identifiers": ((ssn, "987-65-4321"),)}
        )
        == "different"
    )
    assert (
        level("identifier", {"identifiers": ((ssn, "123-45-6789"),)}, {"identifiers": ((mrn, "123456789"),)})
        == "null"
    )
    # numbers one apart were handed out in sequence (twins' SSNs, a family's MRNs), not mistyped
    assert (
        level(
            "identifier", {"identifiers": ((ssn, "123-45-6788"),)}, {"identifiers": ((ssn, "123-45-6789"),)}
        )
        == "different"
    )
    assert level("identifier", {"identifiers": ((mrn, "0001041"),)}, {"identifiers": ((mrn, "0001042"),)}) == (
        "different"
    )
    assert level("identifier", {"identifiers": ((mrn, "0001041"),)}, {"identifiers": ((mrn, "0001047"),)}) == (
        "typo"
    )


def test_missing_values_are_null_level():
    levels = compare_records(person("a", given=("Ann",)), person("b", family="Lee"))
    assert levels["given"] == "null" and levels["family"] == "null"
    assert set(levels.values()) == {"null"}


def test_unicode_names_fold_and_compare_sensibly():
    assert fold("José") == "jose" and fold("ZOË") == "zoe"
    assert level("given", {"given": ("José",)}, {"given": ("Jose",)}) == "exact"
    assert level("family", {"family": "Müller"}, {"family": "MULLER"}) == "exact"
    assert level("family", {"family": "Straße"}, {"family": "Strasse"}) == "exact"
    assert level("family", {"family": "王"}, {"family": "王"}) == "exact"
    assert level("family", {"family": "王"}, {"family": "李"}) == "different"
    assert level("given", {"given": ("Ольга",)}, {"given": ("ОЛЬГА",)}) == "exact"
    assert level("given", {"given": ("Ольга",)}, {"given": ("Olga",)}) == "different"
    assert level("family", {"family": "محمد"}, {"family": "محمد"}) == "exact"
    assert soundex("王") == "" and soundex("Robert") == soundex("Rupert") == "R163"
