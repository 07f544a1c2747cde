"""Clinical abbreviations and lay phrases expand to the wording of coded displays; the original words stay."""
from __future__ import annotations

from importlib import resources

import pytest

from engine.indexing.synonyms import DEFAULT_RESOURCE, Synonyms


@pytest.fixture(scope="module")
def synonyms() -> Synonyms:
    return Synonyms.load_default()


@pytest.mark.parametrize(("query", "expected"), [
    ("last A1c", "last A1c hemoglobin a1c"),
    ("HbA1c", "HbA1c hemoglobin a1c"),
    ("MI", "MI myocardial infarction"),
    ("heart attack", "heart attack myocardial infarction"),
    ("HTN", "HTN hypertension"),
    ("DM2", "DM2 diabetes mellitus type 2"),
    ("T2DM", "T2DM diabetes mellitus type 2"),
    ("CABG", "CABG coronary artery bypass graft"),
    ("blood sugar", "blood sugar glucose"),
    ("BP", "BP blood pressure"),
    ("kidney", "kidney renal"),
    ("CHF", "CHF congestive heart failure"),
    ("CBC", "CBC complete blood count"),
    ("BMI", "BMI body mass index"),
    ("LDL", "LDL low density lipoprotein cholesterol"),
])
def test_abbreviations_and_lay_terms_expand(synonyms, query, expected):
    assert synonyms.expand(query) == expected


def test_matching_ignores_case(synonyms):
    assert synonyms.expand("hba1c") == "hba1c hemoglobin a1c"
    assert synonyms.expand("Heart Attack") == "Heart Attack myocardial infarction"


def test_whole_words_only(synonyms):
    assert synonyms.expand("mild migraine") == "mild migraine"
    assert synonyms.expansions("submit") == []


def test_a_phrase_beats_its_words(synonyms):
    assert synonyms.expansions("flu shot last fall") == ["influenza vaccine", "immunization"]
    assert synonyms.expansions("flu") == ["influenza"]
    assert synonyms.expansions("shot") == ["immunization vaccine"]


def test_several_terms_in_one_query(synonyms):
    assert synonyms.expand("ER visit for chest pain, check BP") == (
        "ER visit for chest pain, check BP emergency encounter blood pressure")


def test_a_term_may_have_several_wordings(synonyms):
    assert synonyms.expansions("COPD") == [
        "chronic obstructive lung disease", "chronic obstructive bronchitis", "pulmonary emphysema"]
    assert synonyms.expansions("strep throat") == ["streptococcal sore throat"]


def test_plural_forms_match(synonyms):
    assert synonyms.expansions("UTIs") == ["urinary tract infection", "cystitis"]
    assert synonyms.expansions("shots") == ["immunization vaccine"]


def test_wordings_already_in_the_query_are_not_repeated(synonyms):
    assert synonyms.expand("hemoglobin A1c") == "hemoglobin A1c"
    assert synonyms.expansions("A1c A1c") == ["hemoglobin a1c"]


def test_queries_without_terms_are_unchanged(synonyms):
    for query in ("", "   ", "appendicitis", "Patient/123", "2020-01-01"):
        assert synonyms.expand(query) == query


def test_punctuated_terms(synonyms):
    assert synonyms.expansions("c-section") == ["cesarean section"]
    assert synonyms.expansions("COVID-19 vaccine") == ["sars-cov-2 (covid-19) vaccine"]
    assert synonyms.expansions("covid-19") == []
    assert synonyms.expansions("PT/INR") == ["inr coagulation"]


def test_the_default_list_is_curated_and_sourced():
    text = resources.files("engine.indexing").joinpath(DEFAULT_RESOURCE).read_text(encoding="utf-8")
    header = " ".join(line for line in text.splitlines() if line.startswith("#"))
    assert "SNOMED CT" in header and "LOINC" in header and "CVX" in header and "Synthea" in header
    entries = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert 150 <= len(entries) <= 400
    assert all(line.count("\t") == 1 for line in entries)
    assert 150 <= len(Synonyms.load_default()) <= 400


def test_load_default_is_loaded_once():
    assert Synonyms.load_default() is Synonyms.load_default()


def test_parse_reads_tsv_and_rejects_malformed_lines():
    table = Synonyms.parse("# comment\n\nNSAID\tibuprofen naproxen\nNSAID\taspirin\n")
    assert table.expand("nsaid") == "nsaid ibuprofen naproxen aspirin"
    with pytest.raises(ValueError, match="line 2"):
        Synonyms.parse("ok\tfine\nno tab here\n")
    with pytest.raises(ValueError):
        Synonyms.parse("term\t   \n")
