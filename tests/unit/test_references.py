"""Reference strings: literal (relative, versioned, absolute), conditional and placeholder forms."""
from __future__ import annotations

import pytest

from engine.fhir.references import ParsedReference, conditional_parts, is_placeholder, parse_reference


def test_a_relative_reference_names_type_and_id():
    assert parse_reference("Patient/123") == ParsedReference("Patient", "123")


def test_a_versioned_reference_keeps_its_version():
    assert parse_reference("Observation/a.b-c/_history/7") == ParsedReference("Observation", "a.b-c", "7")


def test_an_absolute_reference_keeps_its_base_url():
    parsed = parse_reference("https://fhir.example.org/r4/Patient/9")
    assert parsed == ParsedReference("Patient", "9", None, "https://fhir.example.org/r4")
    assert parsed.relative == "Patient/9"


def test_an_absolute_versioned_reference_has_base_and_version():
    assert parse_reference("http://h/fhir/Encounter/e1/_history/2") == ParsedReference(
        "Encounter", "e1", "2", "http://h/fhir")


def test_an_id_of_sixty_four_characters_is_accepted_and_sixty_five_is_not():
    assert parse_reference("Patient/" + "a" * 64) is not None
    assert parse_reference("Patient/" + "a" * 65) is None


@pytest.mark.parametrize("text", [
    "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a", "urn:oid:1.2.3", "#contained-1",
    "Patient?identifier=urn:mrn|12", "Unicorn/1", "patient/1", "Patient/", "Patient/1/extra", "Patient/a b",
    "Patient/1/_history/", "ftp://h/Patient/1", "",
])
def test_non_literal_or_malformed_references_do_not_parse(text):
    assert parse_reference(text) is None


def test_a_conditional_reference_splits_into_type_and_query():
    assert conditional_parts("Organization?identifier=https://github.com/synthetichealth/synthea|abc") == (
        "Organization", "identifier=https://github.com/synthetichealth/synthea|abc")


@pytest.mark.parametrize("text", ["Organization/1", "Organization?", "Unicorn?identifier=1", "?identifier=1",
                                  "urn:uuid:1?x=1"])
def test_other_forms_are_not_conditional_references(text):
    assert conditional_parts(text) is None


@pytest.mark.parametrize("text, expected", [
    ("urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a", True), ("urn:oid:2.16.840.1", True),
    ("urn:isbn:0451450523", False), ("Patient/1", False), ("http://h/Patient/1", False), ("uuid:1", False),
])
def test_placeholders_are_urn_uuid_and_urn_oid(text, expected):
    assert is_placeholder(text) is expected
