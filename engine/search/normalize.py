"""Text normalisation for string search: case- and accent-insensitive, plus Soundex for `phonetic`."""
from __future__ import annotations

import unicodedata
from functools import lru_cache

MAX_INDEXED_TEXT = 200


_LATIN_END = 0x250  # Basic Latin through Latin Extended-B


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower-case `text` and strip accents from Latin and Greek letters, so 'Zoë' and 'ZOE' compare equal.

    Marks on letters of other scripts (Й, ガ, Devanagari signs, Hangul syllables) are kept.
    """
    if text.isascii():
        return text.casefold()[:MAX_INDEXED_TEXT]
    kept: list[str] = []
    base_is_latin = False
    for char in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(char):
            if base_is_latin:
                continue
        else:
            base_is_latin = ord(char) < _LATIN_END or 0x370 <= ord(char) < 0x400  # Latin or Greek
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept)).casefold()[:MAX_INDEXED_TEXT]


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
