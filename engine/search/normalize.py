"""Text normalisation for string search: case- and accent-insensitive, plus Soundex for `phonetic`."""
from __future__ import annotations

import unicodedata
from functools import lru_cache

MAX_INDEXED_TEXT = 200


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower-case `text` and strip accents, so 'Zoë' and 'ZOE' compare equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()[:MAX_INDEXED_TEXT]


_SOUNDEX = {**dict.fromkeys("bfpv", "1"), **dict.fromkeys("cgjkqsxz", "2"), **dict.fromkeys("dt", "3"),
            "l": "4", **dict.fromkeys("mn", "5"), "r": "6"}


@lru_cache(maxsize=65536)
def soundex(word: str) -> str:
    """American Soundex of a word ('' when it has no letters)."""
    letters = [c for c in fold(word) if "a" <= c <= "z"]
    if not letters:
        return ""
    code, previous = letters[0].upper(), _SOUNDEX.get(letters[0], "")
    for char in letters[1:]:
        digit = _SOUNDEX.get(char, "")
        if digit and digit != previous:
            code += digit
        if char not in "hw":
            previous = digit
    return (code + "000")[:4]
