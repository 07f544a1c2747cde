"""Field normalisation for matching: folding, names, phones, e-mails, postcodes, addresses, Soundex."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from engine.search.normalize import soundex  # noqa: F401 - one Soundex for search and matching

_NON_ALNUM = re.compile(r"[^\w]+")
_DIGITS = re.compile(r"\D+")
_NAME_JOINERS = re.compile(r"[\s\-'’.`]+")
SUFFIXES = {
    "jr": "jr",
    "junior": "jr",
    "sr": "sr",
    "senior": "sr",
    "ii": "ii",
    "2nd": "ii",
    "iii": "iii",
    "3rd": "iii",
    "iv": "iv",
    "4th": "iv",
    "v": "v",
}
# Street-type and direction words, folded to one abbreviation each; they also count as "generic" tokens
# that alone say little about an address.
_STREET_WORDS = {
    "street": "st",
    "st": "st",
    "str": "st",
    "road": "rd",
    "rd": "rd",
    "avenue": "ave",
    "ave": "ave",
    "av": "ave",
    "drive": "dr",
    "dr": "dr",
    "court": "ct",
    "ct": "ct",
    "place": "pl",
    "pl": "pl",
    "crescent": "cres",
    "cres": "cres",
    "lane": "ln",
    "ln": "ln",
    "boulevard": "blvd",
    "blvd": "blvd",
    "circuit": "cct",
    "cct": "cct",
    "highway": "hwy",
    "hwy": "hwy",
    "terrace": "tce",
    "tce": "tce",
    "parade": "pde",
    "pde": "pde",
    "close": "cl",
    "cl": "cl",
    "way": "way",
    "square": "sq",
    "sq": "sq",
    "circle": "cir",
    "cir": "cir",
    "parkway": "pkwy",
    "pkwy": "pkwy",
    "north": "n",
    "n": "n",
    "south": "s",
    "s": "s",
    "east": "e",
    "e": "e",
    "west": "w",
    "w": "w",
    "apartment": "unit",
    "apt": "unit",
    "unit": "unit",
    "flat": "unit",
    "suite": "unit",
    "ste": "unit",
    "floor": "fl",
    "fl": "fl",
    "po": "po",
    "box": "box",
}
GENERIC_ADDRESS_TOKENS = frozenset(_STREET_WORDS.values())
_GMAIL = {"gmail.com", "googlemail.com"}


@lru_cache(maxsize=262_144)
def fold(text: str) -> str:
    """Lower-case `text` and strip accents ('José' -> 'jose'); other scripts are kept as they are."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def name_tokens(text: str | None) -> tuple[str, ...]:
    """The folded words of a name ('Mary-Ann  O'Neil' -> ('mary', 'ann', 'o', 'neil'))."""
    if not text:
        return ()
    return tuple(t for t in _NAME_JOINERS.split(fold(text)) if t)


def squash(tokens: tuple[str, ...]) -> str | None:
    """Name words joined without separators ('van der berg' -> 'vanderberg'), None when empty."""
    return "".join(tokens) or None


def split_suffix(tokens: tuple[str, ...]) -> tuple[tuple[str, ...], str | None]:
    """Separate a trailing generational suffix ('smith jr' -> ('smith',), 'jr')."""
    if len(tokens) > 1 and tokens[-1] in SUFFIXES:
        return tokens[:-1], SUFFIXES[tokens[-1]]
    return tokens, None


def normalize_suffix(text: str | None) -> str | None:
    """Canonical generational suffix ('Jr.' -> 'jr'); None for anything else (e.g. 'MD')."""
    if not text:
        return None
    return SUFFIXES.get(fold(text).strip(". "))


def normalize_phone(text: str | None) -> str | None:
    """The last 10 digits of a phone number ('+1 (555) 010-9999' -> '5550109999'); None below 7 digits.

    Keeping the national significant number's last ten digits makes international (+1, +44, 00..) and
    national (0..) spellings of the same number agree without a numbering-plan database.
    """
    if not text:
        return None
    digits = _DIGITS.sub("", text)
    if len(digits) < 7:
        return None
    return digits[-10:]


def normalize_email(text: str | None) -> str | None:
    """Lower-cased address without '+tag'; dots dropped in Gmail local parts; None when not an address."""
    if not text:
        return None
    text = text.strip().lower()
    if text.startswith("mailto:"):
        text = text[7:]
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain:
        return None
    local = local.split("+", 1)[0]
    if domain in _GMAIL:
        domain, local = "gmail.com", local.replace(".", "")
    return f"{local}@{domain}" if local else None


def normalize_postcode(text: str | None) -> str | None:
    """Upper-case letters and digits only; a US ZIP+4 keeps its five-digit ZIP."""
    if not text:
        return None
    code = _NON_ALNUM.sub("", fold(text)).replace("_", "").upper()
    if len(code) == 9 and code.isdigit():
        code = code[:5]
    return code or None


def address_tokens(text: str | None) -> tuple[str, ...]:
    """Folded address words with street types and directions abbreviated ('12 Main Street' -> 12 main st)."""
    if not text:
        return ()
    words = _NON_ALNUM.sub(" ", fold(text)).replace("_", " ").split()
    return tuple(_STREET_WORDS.get(w, w) for w in words)


def normalize_place(text: str | None) -> str | None:
    """A folded city name with single spaces."""
    if not text:
        return None
    return " ".join(_NON_ALNUM.sub(" ", fold(text)).replace("_", " ").split()) or None


def normalize_sex(text: str | None) -> str | None:
    """'m', 'f' or 'o' from FHIR gender or common spellings; None for unknown or missing."""
    if not text:
        return None
    value = fold(text)
    if value in ("m", "male", "man"):
        return "m"
    if value in ("f", "female", "woman"):
        return "f"
    if value in ("o", "other", "x", "nonbinary", "non-binary"):
        return "o"
    return None


_SYSTEM_ALIASES = {
    "urn:oid:2.16.840.1.113883.4.1": "http://hl7.org/fhir/sid/us-ssn",
    "http://hl7.org/fhir/sid/us-ssn": "http://hl7.org/fhir/sid/us-ssn",
    "urn:oid:2.16.840.1.113883.4.3": "http://hl7.org/fhir/sid/us-npi",
}


def normalize_system(text: str | None) -> str:
    """An identifier system URI, lower-cased, with known OID spellings mapped to their FHIR URI."""
    system = (text or "").strip().lower().rstrip("/")
    return _SYSTEM_ALIASES.get(system, system)


def normalize_identifier_value(text: str | None) -> str | None:
    """An identifier value as upper-case letters and digits ('123-45-6789' -> '123456789')."""
    if not text:
        return None
    value = _NON_ALNUM.sub("", fold(text)).replace("_", "").upper()
    return value or None
