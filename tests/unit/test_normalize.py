"""String search folding (case and accents) and American Soundex for the `phonetic` parameter."""
from __future__ import annotations

import pytest

from engine.search.normalize import MAX_INDEXED_TEXT, fold, soundex


@pytest.mark.parametrize("text, folded", [
    ("ZOË", "zoe"), ("Zoë", "zoe"), ("Ångström", "angstrom"), ("Müller", "muller"), ("François", "francois"),
    ("Łukasz", "łukasz"), ("Straße", "strasse"), ("ﬁne", "fine"), ("O'Brien-Smith", "o'brien-smith"),
])
def test_folding_lowercases_and_strips_accents(text, folded):
    assert fold(text) == folded


@pytest.mark.parametrize("text, folded", [
    ("東京", "東京"), ("ИВАН", "иван"), ("Ελένη", "ελενη"), ("محمد", "محمد"), ("שלום", "שלום"),
])
def test_non_latin_scripts_pass_through_lowercased(text, folded):
    assert fold(text) == folded


@pytest.mark.parametrize("text, folded", [
    ("ДМИТРИЙ", "дмитрий"),  # Й is a letter of its own, not an accented И
    ("ガス", "ガス"),  # the dakuten makes ガ (ga) a different syllable from カ (ka)
    ("क्षत्रिय", "क्षत्रिय"),  # the virama joins consonants; dropping it changes the word
    ("김민준", "김민준"),  # Hangul syllables should stay syllables, not become conjoining jamo
], ids=["cyrillic-short-i", "japanese-dakuten", "devanagari-virama", "hangul-syllables"])
def test_folding_keeps_letters_that_non_latin_scripts_write_with_combining_marks(text, folded):
    assert fold(text) == folded


def test_folding_is_idempotent():
    assert fold(fold("Ÿvette DÜPONT")) == fold("Ÿvette DÜPONT")


def test_folded_text_is_cut_to_the_indexed_length():
    assert len(fold("a" * (MAX_INDEXED_TEXT + 50))) == MAX_INDEXED_TEXT


@pytest.mark.parametrize("word, code", [
    ("Robert", "R163"), ("Rupert", "R163"), ("Ashcraft", "A261"), ("Ashcroft", "A261"), ("Tymczak", "T522"),
    ("Pfister", "P236"), ("Rubin", "R150"), ("Lee", "L000"), ("Honeyman", "H555"), ("Jackson", "J250"),
])
def test_soundex_gives_the_known_american_soundex_codes(word, code):
    assert soundex(word) == code


def test_soundex_ignores_case_and_accents():
    assert soundex("rOBÉRT") == soundex("Robert") == "R163"


def test_soundex_ignores_non_letters():
    assert soundex("O'Hara-1") == soundex("OHara")


@pytest.mark.parametrize("word", ["", "1234", "---", "東京"])
def test_soundex_of_a_word_without_latin_letters_is_empty(word):
    assert soundex(word) == ""
