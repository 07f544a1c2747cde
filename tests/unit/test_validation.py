"""Resource validation reports each failing element by its FHIRPath-like location."""
from __future__ import annotations

from typing import Any

import pytest

from engine.errors import InvalidResource, UnknownResourceType
from engine.fhir.validation import check_resource_type, validate_resource


def issues_of(resource: Any) -> list[tuple[str, str | None]]:
    """(code, expression) of every issue validating `resource` raises."""
    with pytest.raises(InvalidResource) as caught:
        validate_resource(resource)
    return [(issue.code, issue.expression) for issue in caught.value.issues]


def expressions_of(resource: Any) -> list[str | None]:
    return [expression for _, expression in issues_of(resource)]


def test_a_valid_patient_passes_and_its_type_is_returned():
    patient = {
        "resourceType": "Patient", "id": "p-1.x", "active": True, "gender": "female", "birthDate": "1980-02-29",
        "name": [{"use": "official", "family": "Ångström", "given": ["Zoë", "Ann"]}],
        "telecom": [{"system": "phone", "value": "+1 555 0100", "use": "home"}],
        "address": [{"line": ["1 Main St"], "city": "Boston", "postalCode": "02110", "country": "US"}],
        "identifier": [{"system": "urn:oid:1.2.3", "value": "MRN-1"}], "deceasedBoolean": False,
        "meta": {"versionId": "3", "lastUpdated": "2020-01-01T00:00:00.000+00:00"},
    }
    assert validate_resource(patient) == "Patient"


def test_a_valid_observation_with_a_quantity_passes():
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"},
                   "subject": {"reference": "Patient/1"}, "effectiveDateTime": "2020-01-01T10:00:00Z",
                   "valueQuantity": {"value": 60.5, "unit": "kg", "system": "http://unitsofmeasure.org",
                                     "code": "kg"}}
    assert validate_resource(observation) == "Observation"


@pytest.mark.parametrize("birth_date", ["2020-02-30", "2021-02-29", "1990-13", "garbage", "2020-01-01T00:00:00Z"])
def test_an_impossible_or_malformed_date_is_reported_at_its_element(birth_date):
    assert expressions_of({"resourceType": "Patient", "birthDate": birth_date}) == ["Patient.birthDate"]


def test_a_date_time_with_hours_but_no_time_zone_is_rejected():
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "effectiveDateTime": "2020-01-01T10:00:00"}
    assert expressions_of(observation) == ["Observation.effectiveDateTime"]


def test_an_object_where_a_list_belongs_is_reported_at_the_list():
    assert expressions_of({"resourceType": "Patient", "name": {"family": "X"}}) == ["Patient.name"]


def test_a_list_where_a_string_belongs_is_reported_with_its_index():
    assert expressions_of({"resourceType": "Patient", "name": [{"family": ["X"]}]}) == ["Patient.name[0].family"]


def test_a_string_where_a_list_of_strings_belongs_is_reported():
    assert expressions_of({"resourceType": "Patient", "name": [{"given": "Ann"}]}) == ["Patient.name[0].given"]


def test_a_nested_error_is_located_through_backbone_elements():
    resource = {"resourceType": "Patient", "contact": [{"name": {"family": 1}}]}
    assert expressions_of(resource) == ["Patient.contact[0].name.family"]


def test_an_unknown_element_is_a_structure_issue_at_that_element():
    assert issues_of({"resourceType": "Patient", "nickname": "Bob"}) == [("structure", "Patient.nickname")]


def test_a_missing_required_element_is_reported_as_required():
    assert issues_of({"resourceType": "Observation", "status": "final"}) == [("required", "Observation.code")]


def test_a_missing_required_primitive_is_reported_as_required_too():
    assert issues_of({"resourceType": "Observation", "code": {"text": "x"}}) == [("required", "Observation.status")]


def test_every_failing_element_is_reported_not_only_the_first():
    expressions = expressions_of({"resourceType": "Patient", "birthDate": "x", "nickname": "y"})
    assert set(expressions) == {"Patient.birthDate", "Patient.nickname"}


def test_the_message_names_the_first_failing_element():
    with pytest.raises(InvalidResource, match=r"^Patient\.birthDate: "):
        validate_resource({"resourceType": "Patient", "birthDate": "nope"})


def test_two_values_of_one_choice_element_are_rejected():
    with pytest.raises(InvalidResource):
        validate_resource({"resourceType": "Patient", "deceasedBoolean": True, "deceasedDateTime": "2020"})


@pytest.mark.parametrize("element, value", [
    ("active", "true"),  # FHIR JSON booleans are JSON true/false, never strings
    ("active", 1),
    ("multipleBirthInteger", "2"),  # FHIR JSON integers are JSON numbers
], ids=["boolean-as-string", "boolean-as-number", "integer-as-string"])
def test_a_primitive_of_the_wrong_json_type_is_rejected(element, value):
    assert expressions_of({"resourceType": "Patient", element: value}) == [f"Patient.{element}"]


def test_a_decimal_written_as_a_string_is_rejected():
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "valueQuantity": {"value": "5.4"}}
    assert expressions_of(observation) == ["Observation.valueQuantity.value"]


@pytest.mark.parametrize("resource, expression", [
    ({"resourceType": "Patient", "name": [{"family": None}]}, "Patient.name[0].family"),
    ({"resourceType": "Patient", "name": [{}]}, "Patient.name[0]"),
    ({"resourceType": "Patient", "name": []}, "Patient.name"),
], ids=["null", "empty-object", "empty-array"])
def test_nulls_and_empty_objects_and_arrays_are_rejected_in_modelled_types_too(resource, expression):
    assert expression in expressions_of(resource)


def test_an_unknown_resource_type_is_its_own_error():
    with pytest.raises(UnknownResourceType) as caught:
        validate_resource({"resourceType": "Unicorn"})
    assert caught.value.issues[0].expression == "resourceType"
    assert caught.value.status == 400


@pytest.mark.parametrize("resource", [{}, {"resourceType": 5}, {"resourceType": None}])
def test_a_missing_resource_type_is_required(resource):
    assert issues_of(resource) == [("required", "resourceType")]


@pytest.mark.parametrize("value", [[], "Patient", None, 3])
def test_a_resource_must_be_a_json_object(value):
    assert issues_of(value)[0][0] == "structure"


def test_check_resource_type_returns_the_type_without_validating_content():
    assert check_resource_type({"resourceType": "Patient", "birthDate": "nope"}) == "Patient"


@pytest.mark.parametrize("resource_id", ["has space", "a" * 65, "", "slash/id", "ü", 5])
def test_an_invalid_id_is_reported_at_the_id(resource_id):
    assert issues_of({"resourceType": "Patient", "id": resource_id}) == [("value", "Patient.id")]


@pytest.mark.parametrize("resource_id", ["a", "A-1.b", "a" * 64, "0"])
def test_valid_ids_are_accepted(resource_id):
    assert validate_resource({"resourceType": "Patient", "id": resource_id}) == "Patient"


def test_an_invalid_resource_answers_422():
    with pytest.raises(InvalidResource) as caught:
        validate_resource({"resourceType": "Patient", "birthDate": "x"})
    assert caught.value.status == 422


class TestStructuralOnlyTypes:
    """R4 types without an R4B model (MedicinalProduct and friends) get shape checks."""

    def test_a_well_shaped_medicinal_product_passes(self):
        product = {"resourceType": "MedicinalProduct", "id": "mp1",
                   "name": [{"productName": "Aspirin 100 mg", "_productName": {"id": "n1"}}],
                   "identifier": [{"system": "urn:x", "value": "1"}], "contained": [{"resourceType": "Basic"}],
                   "extension": [{"url": "http://example.org/x", "valueBoolean": True}]}
        assert validate_resource(product) == "MedicinalProduct"

    def test_a_null_is_rejected_where_it_occurs(self):
        product = {"resourceType": "MedicinalProduct", "name": [{"productName": None}]}
        assert issues_of(product) == [("value", "MedicinalProduct.name[0].productName")]

    def test_an_empty_object_is_rejected(self):
        assert issues_of({"resourceType": "MedicinalProduct", "name": [{}]}) == [("value", "MedicinalProduct.name[0]")]

    def test_an_empty_array_is_rejected(self):
        assert issues_of({"resourceType": "MedicinalProduct", "name": []}) == [("value", "MedicinalProduct.name")]

    def test_a_bad_nested_element_name_is_rejected(self):
        product = {"resourceType": "MedicinalProduct", "name": [{"productName": "x", "9lives": 1}]}
        assert issues_of(product) == [("structure", "MedicinalProduct.name[0]")]

    def test_a_bad_top_level_element_name_is_rejected(self):
        assert issues_of({"resourceType": "MedicinalProduct", "bad-name": 1}) == [("structure", "MedicinalProduct")]

    def test_an_invalid_id_is_rejected_before_the_shape_checks(self):
        assert issues_of({"resourceType": "SubstancePolymer", "id": "no way"}) == [("value", "SubstancePolymer.id")]

    def test_every_problem_is_listed(self):
        product = {"resourceType": "MedicinalProduct", "name": [{"productName": None}, {}], "identifier": []}
        assert len(issues_of(product)) == 3
