"""Index rows extracted from resources: one row per (parameter, value) in the table of its type."""
from __future__ import annotations

from typing import Any

from engine.fhir.dates import MAX_US, MIN_US
from engine.search.extraction import CURRENCY_SYSTEM, IndexRows, extract
from tests.unit.support import us

DAY = 86_400_000_000


def rows(resource: dict[str, Any], table: str, code: str) -> list[tuple]:
    """The rows of `table` for parameter `code`, without the code."""
    index: IndexRows = extract(resource["resourceType"], resource)
    return [row[1:] for row in getattr(index, table) if row[0] == code]


def observation(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, **elements}


class TestTokens:
    def test_each_coding_of_a_codeable_concept_is_a_row_with_its_folded_display(self):
        code = {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body Wéight"},
                           {"system": "http://snomed.info/sct", "code": "27113001"}], "text": "Weight"}
        assert rows(observation(code=code), "tokens", "code") == [
            ("http://loinc.org", "29463-7", "body weight"), ("http://snomed.info/sct", "27113001", "weight")]

    def test_a_codeable_concept_with_only_text_is_a_row_without_system_or_code(self):
        only_text = observation(code={"text": "Blood Pressure"})
        assert rows(only_text, "tokens", "code") == [(None, None, "blood pressure")]

    def test_a_coding_is_a_row_of_system_code_and_display(self):
        patient = {"resourceType": "Patient", "meta": {"tag": [{"system": "urn:t", "code": "vip", "display": "VIP"}]}}
        assert rows(patient, "tokens", "_tag") == [("urn:t", "vip", "vip")]

    def test_an_identifier_is_system_and_value_with_its_type_text_as_display(self):
        patient = {"resourceType": "Patient", "identifier": [
            {"system": "urn:mrn", "value": "A1", "type": {"text": "Medical Record"}}, {"value": "B2"}]}
        assert rows(patient, "tokens", "identifier") == [("urn:mrn", "A1", "medical record"), (None, "B2", None)]

    def test_a_contact_point_is_its_system_and_value(self):
        patient = {"resourceType": "Patient", "telecom": [{"system": "phone", "value": "555-0100"},
                                                          {"system": "email", "value": "a@example.org"}]}
        assert rows(patient, "tokens", "telecom") == [("phone", "555-0100", None), ("email", "a@example.org", None)]
        assert rows(patient, "tokens", "email") == [("email", "a@example.org", None)]
        assert rows(patient, "tokens", "phone") == [("phone", "555-0100", None)]

    def test_a_boolean_is_the_code_true_or_false(self):
        assert rows({"resourceType": "Patient", "active": True}, "tokens", "active") == [(None, "true", None)]
        assert rows({"resourceType": "Patient", "active": False}, "tokens", "active") == [(None, "false", None)]

    def test_a_code_is_a_row_without_system(self):
        assert rows({"resourceType": "Patient", "gender": "other"}, "tokens", "gender") == [(None, "other", None)]

    def test_deceased_is_true_for_a_death_date_and_false_when_absent(self):
        dead = {"resourceType": "Patient", "deceasedDateTime": "2020-01-01T00:00:00Z"}
        assert rows(dead, "tokens", "deceased") == [(None, "true", None)]
        assert rows({"resourceType": "Patient"}, "tokens", "deceased") == [(None, "false", None)]
        flagged = {"resourceType": "Patient", "deceasedBoolean": True}
        assert rows(flagged, "tokens", "deceased") == [(None, "true", None)]

    def test_element_filters_pick_only_matching_contact_points(self):
        patient = {"resourceType": "Patient", "telecom": [{"system": "fax", "value": "1"}]}
        assert rows(patient, "tokens", "phone") == [] and rows(patient, "tokens", "email") == []


class TestStrings:
    def test_every_part_of_a_human_name_is_a_folded_row_with_the_exact_text(self):
        patient = {"resourceType": "Patient", "name": [{"family": "Ångström", "given": ["Zoë", "Ann"],
                                                        "prefix": ["Dr"], "suffix": ["PhD"], "text": "Dr Zoë"}]}
        assert rows(patient, "strings", "name") == [
            ("angstrom", "Ångström"), ("zoe", "Zoë"), ("ann", "Ann"), ("dr", "Dr"), ("phd", "PhD"),
            ("dr zoe", "Dr Zoë")]
        assert rows(patient, "strings", "family") == [("angstrom", "Ångström")]
        assert rows(patient, "strings", "given") == [("zoe", "Zoë"), ("ann", "Ann")]

    def test_every_part_of_an_address_is_a_row(self):
        patient = {"resourceType": "Patient", "address": [{
            "line": ["1 Main St", "Apt 2"], "city": "Zürich", "district": "D", "state": "ZH", "postalCode": "8001",
            "country": "CH", "text": "1 Main St, Zürich", "use": "home"}]}
        assert rows(patient, "strings", "address") == [
            ("1 main st", "1 Main St"), ("apt 2", "Apt 2"), ("zurich", "Zürich"), ("d", "D"), ("zh", "ZH"),
            ("8001", "8001"), ("ch", "CH"), ("1 main st, zurich", "1 Main St, Zürich")]
        assert rows(patient, "strings", "address-city") == [("zurich", "Zürich")]
        assert rows(patient, "tokens", "address-use") == [(None, "home", None)]

    def test_a_name_with_only_a_prefix_is_still_searchable(self):
        patient = {"resourceType": "Patient", "name": [{"prefix": ["Dr"]}]}
        assert rows(patient, "strings", "name") == [("dr", "Dr")]

    def test_a_plain_string_is_one_row(self):
        organization = {"resourceType": "Organization", "name": "St. Élise Hospital"}
        assert rows(organization, "strings", "name") == [("st. elise hospital", "St. Élise Hospital")]

    def test_phonetic_rows_are_the_soundex_of_each_word_of_each_name_part(self):
        patient = {"resourceType": "Patient", "name": [{"family": "Pfister", "given": ["Robert Ashcraft"]}]}
        assert sorted(rows(patient, "strings", "phonetic")) == [("a261", "A261"), ("p236", "P236"), ("r163", "R163")]


class TestDates:
    def test_a_partial_date_is_the_range_it_covers(self):
        assert rows({"resourceType": "Patient", "birthDate": "1980-02"}, "dates", "birthdate") == [
            (us(1980, 2, 1), us(1980, 3, 1) - 1)]

    def test_a_period_runs_from_the_start_of_its_start_to_the_end_of_its_end(self):
        encounter = {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
                     "period": {"start": "2020-01-01", "end": "2020-01-03"}}
        assert rows(encounter, "dates", "date") == [(us(2020, 1, 1), us(2020, 1, 4) - 1)]

    def test_an_open_period_is_unbounded_on_its_open_side(self):
        started = observation(effectivePeriod={"start": "2020-01-01"})
        ended = observation(effectivePeriod={"end": "2020-01-01"})
        assert rows(started, "dates", "date") == [(us(2020, 1, 1), MAX_US)]
        assert rows(ended, "dates", "date") == [(MIN_US, us(2020, 1, 2) - 1)]

    def test_a_timing_gives_each_event_and_its_bounds_period(self):
        plan = {"resourceType": "CarePlan", "status": "active", "intent": "plan",
                "subject": {"reference": "Patient/1"},
                "activity": [{"detail": {"status": "scheduled", "scheduledTiming": {
                    "event": ["2020-01-01", "2020-02-03T10:00:00Z"],
                    "repeat": {"boundsPeriod": {"start": "2020-03-01", "end": "2020-03-31"}}}}}]}
        assert rows(plan, "dates", "activity-date") == [
            (us(2020, 1, 1), us(2020, 1, 2) - 1), (us(2020, 2, 3, 10), us(2020, 2, 3, 10, 0, 1) - 1),
            (us(2020, 3, 1), us(2020, 4, 1) - 1)]

    def test_a_date_time_with_an_offset_is_stored_in_utc(self):
        assert rows(observation(effectiveDateTime="2020-06-01T02:00:00+02:00"), "dates", "date") == [
            (us(2020, 6, 1), us(2020, 6, 1, 0, 0, 1) - 1)]

    def test_an_unparseable_date_gives_no_row(self):
        assert rows({"resourceType": "Patient", "birthDate": "someday"}, "dates", "birthdate") == []


class TestReferences:
    def test_a_relative_reference_is_type_and_id(self):
        relative = observation(subject={"reference": "Patient/p1"})
        assert rows(relative, "references", "subject") == [("Patient", "p1", None)]

    def test_a_versioned_reference_is_indexed_without_its_version(self):
        assert rows(observation(subject={"reference": "Patient/p1/_history/3"}), "references", "subject") == [
            ("Patient", "p1", None)]

    def test_an_absolute_reference_keeps_type_id_and_the_url(self):
        url = "https://other.example/fhir/Patient/p9"
        assert rows(observation(subject={"reference": url}), "references", "subject") == [("Patient", "p9", url)]

    def test_a_urn_reference_is_indexed_by_url_only(self):
        urn = "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"
        assert rows(observation(subject={"reference": urn}), "references", "subject") == [(None, None, urn)]

    def test_a_contained_reference_is_not_indexed(self):
        assert rows(observation(subject={"reference": "#p"}), "references", "subject") == []

    def test_a_reference_filtered_by_target_type_only_indexes_that_type(self):
        about_group = observation(subject={"reference": "Group/g1"})
        assert rows(about_group, "references", "patient") == []
        assert rows(observation(subject={"reference": "Patient/p1"}), "references", "patient") == [
            ("Patient", "p1", None)]

    def test_a_versioned_patient_reference_counts_for_the_patient_parameter(self):
        versioned = observation(subject={"reference": "Patient/p1/_history/3"})
        assert rows(versioned, "references", "patient") == [("Patient", "p1", None)]

    def test_an_absolute_patient_reference_counts_for_the_patient_parameter(self):
        url = "https://other.example/fhir/Patient/p9"
        assert rows(observation(subject={"reference": url}), "references", "patient") == [("Patient", "p9", url)]


class TestQuantitiesAndNumbers:
    def test_a_quantity_is_value_system_code_and_unit(self):
        value = {"value": 60.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}
        assert rows(observation(valueQuantity=value), "quantities", "value-quantity") == [
            (60.5, "http://unitsofmeasure.org", "kg", "kg")]

    def test_an_integer_quantity_value_is_stored_as_a_float(self):
        stored = rows(observation(valueQuantity={"value": 7}), "quantities", "value-quantity")
        assert stored == [(7.0, None, None, None)] and isinstance(stored[0][0], float)

    def test_component_quantities_are_indexed_under_the_component_parameter(self):
        components = [{"code": {"text": "systolic"}, "valueQuantity": {"value": 120, "code": "mm[Hg]"}},
                      {"code": {"text": "diastolic"}, "valueQuantity": {"value": 80, "code": "mm[Hg]"}}]
        assert rows(observation(component=components), "quantities", "component-value-quantity") == [
            (120.0, None, "mm[Hg]", None), (80.0, None, "mm[Hg]", None)]

    def test_money_is_a_quantity_in_the_currency_code_system(self):
        invoice = {"resourceType": "Invoice", "status": "draft", "totalNet": {"value": 10.5, "currency": "EUR"}}
        assert rows(invoice, "quantities", "totalnet") == [(10.5, CURRENCY_SYSTEM, "EUR", None)]

    def test_a_decimal_number_is_a_bare_value(self):
        risk = {"resourceType": "RiskAssessment", "status": "final", "subject": {"reference": "Patient/1"},
                "prediction": [{"probabilityDecimal": 0.02}, {"probabilityRange": {"low": {"value": 1}}}]}
        assert rows(risk, "quantities", "probability") == [(0.02, None, None, None)]

    def test_a_quantity_without_a_value_gives_no_row(self):
        assert rows(observation(valueQuantity={"unit": "kg"}), "quantities", "value-quantity") == []


class TestUris:
    def test_a_uri_is_stored_as_is(self):
        value_set = {"resourceType": "ValueSet", "status": "draft", "url": "http://example.org/ValueSet/X"}
        assert rows(value_set, "uris", "url") == [("http://example.org/ValueSet/X",)]

    def test_meta_profile_and_source_are_uris_on_every_resource(self):
        patient = {"resourceType": "Patient", "meta": {"profile": ["http://p/prof"], "source": "urn:src"}}
        assert rows(patient, "uris", "_profile") == [("http://p/prof",)]
        assert rows(patient, "uris", "_source") == [("urn:src",)]


def test_an_empty_patient_only_gets_the_row_saying_it_is_not_deceased():
    index = extract("Patient", {"resourceType": "Patient"})
    assert (index.strings, index.dates, index.references, index.quantities, index.uris) == ([], [], [], [], [])
    assert index.tokens == [("deceased", None, "false", None)]


def test_long_text_is_cut_to_the_indexed_length():
    organization = {"resourceType": "Organization", "name": "x" * 300}
    [(norm, exact)] = rows(organization, "strings", "name")
    assert len(norm) == len(exact) == 200
