"""Search request parameters become a typed SearchQuery (or a precise 400 / warning)."""
from __future__ import annotations

import pytest

from engine.errors import InvalidRequest, UnsupportedSearchParameter
from engine.search.parsing import parse_clause, parse_search, split_values
from engine.search.query import (IncludeSpec, QuantityValue, RangeValue, ReferenceValue, StringValue, TokenValue,
                                 UriValue)
from tests.unit.support import us


def values(resource_type: str, name: str, value: str) -> tuple:
    return parse_clause(resource_type, name, value).values


class TestSplitValues:
    def test_commas_separate_alternatives(self):
        assert split_values("a,b,,c") == ["a", "b", "", "c"]

    def test_an_escaped_comma_is_part_of_the_value(self):
        assert split_values(r"Smith\, John,Doe") == ["Smith, John", "Doe"]

    def test_escaped_backslash_dollar_and_pipe_are_unescaped(self):
        assert split_values(r"a\\,b\$c\|d") == ["a\\", "b$c|d"]


class TestTokens:
    @pytest.mark.parametrize("text, expected", [
        ("http://loinc.org|8302-2", TokenValue("http://loinc.org", "8302-2", True)),
        ("|8302-2", TokenValue(None, "8302-2", True)),
        ("http://loinc.org|", TokenValue("http://loinc.org", None, True)),
        ("8302-2", TokenValue(None, "8302-2", False)),
    ], ids=["system-and-code", "code-without-system", "any-code-of-system", "code-in-any-system"])
    def test_the_four_token_forms(self, text, expected):
        assert values("Observation", "code", text) == (expected,)

    def test_alternatives_are_or_ed_values_of_one_clause(self):
        assert values("Observation", "code", "a,urn:x|b") == (TokenValue(None, "a"), TokenValue("urn:x", "b", True))

    def test_not_keeps_the_modifier(self):
        clause = parse_clause("Observation", "code:not", "x")
        assert (clause.modifier, clause.values) == ("not", (TokenValue(None, "x"),))

    def test_text_searches_the_folded_display(self):
        clause = parse_clause("Observation", "code:text", "Body Wé")
        assert (clause.modifier, clause.values) == ("text", (StringValue("body we", "Body Wé"),))

    def test_an_escaped_pipe_is_part_of_the_code(self):
        assert values("Observation", "code", r"a\|b") == (TokenValue(None, "a|b", False),)

    def test_id_is_a_plain_list_of_ids_and_accepts_not(self):
        assert values("Patient", "_id", "a,b") == (TokenValue(None, "a"), TokenValue(None, "b"))
        assert parse_clause("Patient", "_id:not", "c").modifier == "not"


class TestStrings:
    def test_a_string_value_is_folded_for_prefix_search_and_kept_raw(self):
        assert values("Patient", "name", "ZOË") == (StringValue("zoe", "ZOË"),)

    @pytest.mark.parametrize("modifier", ["exact", "contains"])
    def test_exact_and_contains_are_kept(self, modifier):
        assert parse_clause("Patient", f"name:{modifier}", "Zoë").modifier == modifier

    def test_phonetic_searches_by_soundex(self):
        assert values("Patient", "phonetic", "Rupert") == (StringValue("r163", "R163"),)

    def test_a_token_modifier_on_a_string_is_unsupported(self):
        with pytest.raises(UnsupportedSearchParameter):
            parse_clause("Patient", "name:not", "x")


class TestDates:
    @pytest.mark.parametrize("prefix", ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"])
    def test_each_prefix_keeps_the_range_of_the_date(self, prefix):
        assert values("Patient", "birthdate", f"{prefix}2020-02") == (
            RangeValue(prefix, us(2020, 2, 1), us(2020, 3, 1) - 1),)

    def test_no_prefix_means_eq(self):
        assert values("Patient", "birthdate", "2020") == (RangeValue("eq", us(2020), us(2021) - 1),)

    def test_ap_widens_the_range_on_both_sides(self):
        (value,) = values("Observation", "date", "ap2000-01-01")
        assert value.prefix == "ap"
        assert value.low < us(2000, 1, 1) and value.high > us(2000, 1, 2) - 1

    def test_last_updated_is_a_date_range(self):
        assert values("Patient", "_lastUpdated", "gt2020-01-01T00:00:00Z") == (
            RangeValue("gt", us(2020), us(2020) + 999_999),)

    @pytest.mark.parametrize("text", ["2020-13", "2020-02-30", "yesterday", "xx2020"])
    def test_an_invalid_date_is_a_bad_request(self, text):
        with pytest.raises(InvalidRequest, match="birthdate"):
            parse_clause("Patient", "birthdate", text)


class TestQuantitiesAndNumbers:
    @pytest.mark.parametrize("text, low, high", [
        ("5.4", 5.35, 5.45), ("5", 4.5, 5.5), ("5.40", 5.395, 5.405), ("100", 99.5, 100.5), ("6e1", 55, 65),
        ("-5", -5.5, -4.5), ("0.001", 0.0005, 0.0015),
    ])
    def test_the_implicit_precision_of_the_number_sets_the_range(self, text, low, high):
        (value,) = values("Observation", "value-quantity", text)
        assert (value.prefix, value.low, value.high) == ("eq", pytest.approx(low), pytest.approx(high))

    def test_prefix_system_and_code_are_parsed(self):
        (value,) = values("Observation", "value-quantity", "gt5.4|http://unitsofmeasure.org|mg")
        assert (value.prefix, value.value, value.system, value.code) == ("gt", 5.4, "http://unitsofmeasure.org", "mg")

    def test_a_code_without_system_is_allowed(self):
        (value,) = values("Observation", "value-quantity", "5||kg")
        assert (value.system, value.code) == (None, "kg")

    def test_ap_means_within_ten_percent(self):
        (value,) = values("Observation", "value-quantity", "ap100")
        assert (value.low, value.high) == (pytest.approx(90), pytest.approx(110))

    def test_a_number_parameter_gets_a_range_value(self):
        assert values("RiskAssessment", "probability", "0.5") == (RangeValue("eq", pytest.approx(0.45),
                                                                             pytest.approx(0.55)),)

    def test_a_quantity_parameter_gets_a_quantity_value(self):
        assert isinstance(values("Observation", "value-quantity", "1")[0], QuantityValue)

    @pytest.mark.parametrize("text", ["abc", "5,4x", "1.", ".5", "gt"])
    def test_a_non_number_is_a_bad_request(self, text):
        with pytest.raises(InvalidRequest):
            parse_search("Observation", [("value-quantity", text)])


class TestReferences:
    @pytest.mark.parametrize("name, text, expected", [
        ("subject", "Patient/1", ReferenceValue("Patient", "1")),
        ("subject", "Patient/1/_history/2", ReferenceValue("Patient", "1")),
        ("subject", "1", ReferenceValue(None, "1")),
        ("patient", "1", ReferenceValue("Patient", "1")),
        ("subject:Patient", "1", ReferenceValue("Patient", "1")),
        ("subject", "urn:uuid:abc", ReferenceValue(None, None, "urn:uuid:abc")),
        ("subject", "http://other.example/fhir/Unicorn/1", ReferenceValue(None, None,
                                                                          "http://other.example/fhir/Unicorn/1")),
    ], ids=["type-and-id", "versioned", "id-of-several-types", "id-of-one-type", "type-modifier", "urn", "url"])
    def test_reference_forms(self, name, text, expected):
        assert values("Observation", name, text) == (expected,)

    def test_an_absolute_url_of_a_resource_is_matched_by_that_url(self):
        url = "http://other.example/fhir/Patient/1"
        assert values("Observation", "subject", url) == (ReferenceValue(None, None, url),)

    def test_a_type_modifier_that_contradicts_the_value_is_a_bad_request(self):
        with pytest.raises(InvalidRequest):
            parse_clause("Observation", "subject:Patient", "Group/1")


class TestChaining:
    def test_a_chain_through_a_typed_reference_parses_the_inner_clause_on_that_type(self):
        clause = parse_clause("Observation", "subject:Patient.name", "peter")
        assert clause.values == ()
        assert [(t, c.parameter.code, c.parameter.resource_type, c.values) for t, c in clause.chains] == [
            ("Patient", "name", "Patient", (StringValue("peter", "peter"),))]

    def test_a_single_target_parameter_chains_without_a_type(self):
        clause = parse_clause("Observation", "patient.birthdate", "2000")
        assert [t for t, _ in clause.chains] == ["Patient"]

    def test_an_untyped_chain_covers_every_target_type_that_has_the_parameter(self):
        clause = parse_clause("Observation", "subject.name", "peter")
        assert sorted(t for t, _ in clause.chains) == ["Location", "Patient"]

    def test_the_inner_clause_keeps_its_modifier(self):
        clause = parse_clause("Observation", "subject:Patient.name:exact", "Peter")
        assert clause.chains[0][1].modifier == "exact"

    def test_a_chain_no_target_type_supports_is_unsupported(self):
        with pytest.raises(UnsupportedSearchParameter):
            parse_clause("Observation", "subject.nonexistent", "x")

    def test_only_reference_parameters_chain(self):
        with pytest.raises(UnsupportedSearchParameter):
            parse_clause("Observation", "code.name", "x")


class TestUriAndMissing:
    @pytest.mark.parametrize("modifier", [None, "below", "above"])
    def test_uri_values_and_their_modifiers(self, modifier):
        name = "url" + (f":{modifier}" if modifier else "")
        clause = parse_clause("ValueSet", name, "http://x/a")
        assert (clause.modifier, clause.values) == (modifier, (UriValue("http://x/a"),))

    @pytest.mark.parametrize("text, missing", [("true", True), ("false", False)])
    def test_missing_takes_true_or_false(self, text, missing):
        clause = parse_clause("Patient", "gender:missing", text)
        assert (clause.modifier, clause.missing, clause.values) == ("missing", missing, ())

    def test_missing_with_another_value_is_a_bad_request(self):
        with pytest.raises(InvalidRequest):
            parse_clause("Patient", "gender:missing", "maybe")


class TestResultParameters:
    def test_sort_keys_keep_order_and_direction(self):
        query = parse_search("Observation", [("_sort", "-date,code,_id")])
        assert [(k.parameter.code, k.descending) for k in query.sort] == [("date", True), ("code", False),
                                                                           ("_id", False)]

    @pytest.mark.parametrize("key", ["unknown", "subject", ""])
    def test_sorting_by_an_unknown_or_reference_parameter_is_unsupported(self, key):
        with pytest.raises(UnsupportedSearchParameter):
            parse_search("Observation", [("_sort", key)], strict=True)
        assert parse_search("Observation", [("_sort", key)]).warnings[0].expression == "_sort"

    def test_count_is_capped_by_the_maximum_page_size(self):
        assert parse_search("Patient", [("_count", "5000")], max_count=1000).count == 1000
        assert parse_search("Patient", [("_count", "7")], max_count=1000).count == 7

    def test_count_defaults_to_the_default_page_size(self):
        assert parse_search("Patient", [], default_count=20).count == 20

    def test_count_zero_is_allowed(self):
        assert parse_search("Patient", [("_count", "0")]).count == 0

    @pytest.mark.parametrize("name", ["_count", "_offset"])
    @pytest.mark.parametrize("value", ["-1", "x", "1.5", "", "²"])
    def test_count_and_offset_must_be_non_negative_integers(self, name, value):
        with pytest.raises(InvalidRequest) as caught:
            parse_search("Patient", [(name, value)])
        assert caught.value.issues[0].expression == name

    def test_offset_is_kept(self):
        assert parse_search("Patient", [("_offset", "30")]).offset == 30

    def test_include_and_revinclude_specs(self):
        query = parse_search("Observation", [("_include", "Observation:subject:Patient"),
                                             ("_revinclude", "Provenance:target"), ("_include", "Observation:*")])
        assert query.includes == [IncludeSpec("Observation", "subject", "Patient"),
                                  IncludeSpec("Observation", "*", None)]
        assert query.revincludes == [IncludeSpec("Provenance", "target", None)]

    @pytest.mark.parametrize("name", ["_include:iterate", "_revinclude:iterate"])
    def test_iterate_marks_the_spec(self, name):
        query = parse_search("Observation", [(name, "Observation:has-member")])
        assert not query.warnings
        assert [spec.iterate for spec in query.includes + query.revincludes] == [True]

    @pytest.mark.parametrize("value", ["Observation", "Observation:subject:Patient:x", "Unicorn:subject", ":subject",
                                       "Observation:subject:Unicorn"])
    def test_a_malformed_include_is_a_bad_request(self, value):
        with pytest.raises(InvalidRequest):
            parse_search("Observation", [("_include", value)])

    def test_including_through_a_non_reference_parameter_is_unsupported(self):
        with pytest.raises(UnsupportedSearchParameter):
            parse_search("Observation", [("_include", "Observation:code")], strict=True)

    @pytest.mark.parametrize("mode", ["true", "false", "count", "data", "text"])
    def test_the_summary_modes(self, mode):
        assert parse_search("Patient", [("_summary", mode)]).summary == mode

    @pytest.mark.parametrize("mode", ["none", "estimate", "accurate"])
    def test_the_total_modes(self, mode):
        assert parse_search("Patient", [("_total", mode)]).total == mode

    @pytest.mark.parametrize("name", ["_summary", "_total"])
    def test_an_unknown_summary_or_total_mode_is_a_bad_request(self, name):
        with pytest.raises(InvalidRequest) as caught:
            parse_search("Patient", [(name, "everything")])
        assert caught.value.issues[0].expression == name

    def test_elements_are_listed(self):
        assert parse_search("Patient", [("_elements", "name, birthDate,")]).elements == ("name", "birthDate")

    def test_format_and_pretty_are_ignored(self):
        query = parse_search("Patient", [("_format", "json"), ("_pretty", "true")])
        assert (query.clauses, query.warnings, query.self_params) == ([], [], [])


class TestUnknownParameters:
    PARAMS = [("foo", "bar"), ("code:bogus", "x"), ("code-value-quantity", "x"),
              ("_has:Observation:subject:code", "x")]

    def test_lenient_handling_turns_each_unknown_parameter_into_a_warning(self):
        query = parse_search("Observation", self.PARAMS + [("status", "final")])
        assert [(w.severity, w.code, w.expression) for w in query.warnings] == [
            ("warning", "not-supported", name) for name, _ in self.PARAMS]
        assert [c.parameter.code for c in query.clauses] == ["status"]
        assert query.self_params == [("status", "final")]

    @pytest.mark.parametrize("param", PARAMS)
    def test_strict_handling_rejects_each_unknown_parameter(self, param):
        with pytest.raises(UnsupportedSearchParameter):
            parse_search("Observation", [param], strict=True)

    def test_a_malformed_value_of_a_known_parameter_is_an_error_even_when_lenient(self):
        with pytest.raises(InvalidRequest):
            parse_search("Patient", [("birthdate", "not-a-date")])


def test_repeated_parameters_are_and_ed_clauses():
    query = parse_search("Patient", [("birthdate", "ge2000"), ("birthdate", "lt2010")])
    assert [(c.parameter.code, c.values[0].prefix) for c in query.clauses] == [("birthdate", "ge"),
                                                                                 ("birthdate", "lt")]
