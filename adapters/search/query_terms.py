"""What a user's query asks of a words index, built once and shared by every search index.

Both indexes tokenize stored text without stemming (the Elasticsearch build has no stemmer; FTS5 uses
`unicode61` to split alike), so the query carries the inflections itself: each word comes with its
singular/plural and possessive forms ("fractures" finds "fracture", "alzheimer" finds "Alzheimer's"), and
a longer word also with its stem as a word prefix ("hypertension" finds "Hypertensive" through
`hypertens*`). Each index re-tokenizes the forms itself and highlights whatever they match.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_WORDS = 64
MIN_STEMMED_WORD = 6  # shorter words are matched as written (a prefix of "pain" would find "paint")
MIN_STEM = 5
_WORD = re.compile(r"[^\W_]+(?:['.][^\W_]+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'"})
_SIBILANT_ENDINGS = ("s", "x", "z", "ch", "sh")
_KEPT_ENDINGS = ("is", "us", "ss")  # -itis, -osis, -us: the ending names the condition
# One suffix comes off, the first that matches: each is listed before the shorter ones it ends with.
_SUFFIXES = ("ations", "ation", "itions", "ition", "ically", "ical", "ities", "ity", "ments", "ment", "ness",
             "ings", "ing", "ions", "ion", "ives", "ive", "ics", "ic", "ies", "ers", "er", "ed", "es", "ia",
             "al", "ly", "y", "s", "e")


@dataclass(frozen=True)
class QueryTerms:
    """Whole words to match, and stems to match as the start of a word; empty when the query has no words."""

    words: tuple[str, ...]
    prefixes: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.words or self.prefixes)


def query_words(text: str) -> list[str]:
    """The distinct lower-case words of `text`, in order, at most `MAX_WORDS`; punctuation dropped."""
    normalized = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    return list(dict.fromkeys(_WORD.findall(normalized)))[:MAX_WORDS]


def _is_english_word(word: str) -> bool:
    return word.isascii() and word.isalpha()


def _number_forms(word: str) -> list[str]:
    if word.endswith("ies") and len(word) > 4:
        return [word[:-3] + "y", word[:-1]]
    if word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return [word[:-2], word[:-1]]
    if word.endswith("ses"):
        return [word[:-1], word[:-2] + "is"]  # diagnoses -> diagnosis
    if word.endswith("is"):
        return [word[:-2] + "es"]
    if word.endswith("s") and not word.endswith(("ss", "us")):
        return [word[:-1]]
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        return [word[:-1] + "ies"]
    if word.endswith(_SIBILANT_ENDINGS):
        return [word + "es"]
    return [word + "s"]


def word_forms(word: str) -> list[str]:
    """`word` first, then its singular or plural and possessive forms (English words of 3+ letters only)."""
    if word.endswith("'s") and _is_english_word(word[:-2]):
        base = word[:-2]
        return [word, base, *_number_forms(base)] if len(base) >= 3 else [word, base]
    if not (_is_english_word(word) and len(word) >= 3):
        return [word]
    forms = [word, *_number_forms(word)]
    if not word.endswith("s"):
        forms.append(word + "'s")
    return forms


def stem(word: str) -> str | None:
    """`word` without its inflectional or derivational ending, when long enough to stand as a prefix."""
    word = word[:-2] if word.endswith("'s") else word
    if len(word) < MIN_STEMMED_WORD or not _is_english_word(word) or word.endswith(_KEPT_ENDINGS):
        return None
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
            return word[:-len(suffix)]
    return None


def query_terms(text: str) -> QueryTerms:
    """Every form of every query word, and the stems of the longer words, without repeats."""
    words = query_words(text)
    forms = dict.fromkeys(form for word in words for form in word_forms(word))
    stems = dict.fromkeys(found for word in words if (found := stem(word)) is not None)
    return QueryTerms(tuple(forms), tuple(stems))
