"""Normalised match features of person records, kept column-wise in numpy arrays (one row per slot)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.identity.dates import parse_birth_date
from engine.identity.normalize import (
    GENERIC_ADDRESS_TOKENS,
    address_tokens,
    name_tokens,
    normalize_email,
    normalize_identifier_value,
    normalize_phone,
    normalize_place,
    normalize_postcode,
    normalize_sex,
    normalize_suffix,
    normalize_system,
    soundex,
    split_suffix,
    squash,
)
from engine.identity.records import PersonRecord
from engine.identity.strings import encode

ALT_GIVEN = 3  # other given-name words kept per record
FAMILY_TOKENS = 3
ADDRESS_TOKENS = 10
IDENTIFIERS = 3
SEX_CODES = {"m": 1, "f": 2, "o": 3}
SUFFIX_CODES = {"jr": 1, "sr": 2, "ii": 3, "iii": 4, "iv": 5, "v": 6}


@dataclass(frozen=True, slots=True)
class Normalised:
    """A PersonRecord's fields normalised once: folded names, parsed date, canonical contact details."""

    record_id: str
    source: str
    given: str | None
    given_alts: tuple[str, ...]
    family: str | None
    family_tokens: tuple[str, ...]
    suffix: str | None
    birth: tuple[int, int, int]
    sex: str | None
    postcode: str | None
    address: tuple[str, ...]
    city: str | None
    phone: str | None
    email: str | None
    identifiers: tuple[tuple[str, str], ...]

    @property
    def given_soundex(self) -> str:
        """Soundex of the first given name ('' when none)."""
        return soundex(self.given) if self.given else ""

    @property
    def family_soundex(self) -> str:
        """Soundex of the family name ('' when none)."""
        return soundex(self.family) if self.family else ""


def normalise(record: PersonRecord) -> Normalised:
    """Normalise every field of `record` once (names folded and split, suffix separated, date parsed)."""
    given_words = [name_tokens(g) for g in record.given]
    given_words = [w for w in given_words if w]
    given = squash(given_words[0]) if given_words else None
    alts: list[str] = []
    for words in given_words:
        for word in words:
            if word != given and word not in alts and len(alts) < ALT_GIVEN:
                alts.append(word)
    family_words, family_suffix = split_suffix(name_tokens(record.family))
    suffix = normalize_suffix(record.suffix) or family_suffix
    identifiers: list[tuple[str, str]] = []
    for system, value in record.identifiers:
        clean = normalize_identifier_value(value)
        key = (normalize_system(system), clean)
        if clean and key not in identifiers and len(identifiers) < IDENTIFIERS:
            identifiers.append(key)  # type: ignore[arg-type]
    return Normalised(
        record_id=record.record_id,
        source=record.source,
        given=given,
        given_alts=tuple(alts),
        family=squash(family_words),
        family_tokens=family_words[:FAMILY_TOKENS] if len(family_words) > 1 else (),
        suffix=suffix,
        birth=parse_birth_date(record.birth_date),
        sex=normalize_sex(record.sex),
        postcode=normalize_postcode(record.postcode),
        address=address_tokens(record.address)[:ADDRESS_TOKENS],
        city=normalize_place(record.city),
        phone=normalize_phone(record.phone),
        email=normalize_email(record.email),
        identifiers=tuple(identifiers),
    )


class Vocab:
    """Strings <-> dense ids, with a code-point matrix (and reversed matrix) for vectorised comparisons."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.ids: dict[str, int] = {}
        self.strings: list[str] = []
        self._codes = np.zeros((0, width), dtype=np.uint32)
        self._reversed = np.zeros((0, width), dtype=np.uint32)
        self._lengths = np.zeros(0, dtype=np.int16)
        self._encoded = 0

    def __len__(self) -> int:
        return len(self.strings)

    def id(self, text: str | None) -> int:
        """The id of `text`, adding it when new; -1 for None or ''."""
        if not text:
            return -1
        found = self.ids.get(text)
        if found is None:
            found = self.ids[text] = len(self.strings)
            self.strings.append(text)
        return found

    def get(self, text: str | None) -> int:
        """The id of `text`, or -1 when unknown."""
        return self.ids.get(text, -1) if text else -1

    def matrices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(codes, reversed codes, lengths) of every string so far, encoded incrementally.

        They have one extra all-zero row at the end, so id -1 (missing) reads as the empty string.
        """
        count = len(self.strings)
        if self._encoded < count or self._codes.shape[0] == 0:
            if count + 1 > self._codes.shape[0]:
                capacity = max(count + 1, 2 * self._codes.shape[0], 1024)
                self._codes = _grow(self._codes, capacity)
                self._reversed = _grow(self._reversed, capacity)
                self._lengths = _grow(self._lengths, capacity)
            fresh = self.strings[self._encoded : count]
            codes, lengths = encode(fresh, self.width)
            rev, _ = encode([s[: self.width][::-1] for s in fresh], self.width)
            self._codes[self._encoded : count] = codes
            self._reversed[self._encoded : count] = rev
            self._lengths[self._encoded : count] = lengths
            self._encoded = count
        return self._codes[: count + 1], self._reversed[: count + 1], self._lengths[: count + 1]


def _grow(array: np.ndarray, capacity: int, fill: int | bool = 0) -> np.ndarray:
    shape = (capacity,) + array.shape[1:]
    grown = np.full(shape, fill, dtype=array.dtype)
    grown[: array.shape[0]] = array
    return grown


_COLUMNS: dict[str, tuple[np.dtype, tuple[int, ...], int]] = {
    "alive": (np.dtype(bool), (), 0),
    "source": (np.dtype(np.int32), (), -1),
    "given": (np.dtype(np.int32), (), -1),
    "given_alts": (np.dtype(np.int32), (ALT_GIVEN,), -1),
    "given_initial_only": (np.dtype(bool), (), 0),
    "family": (np.dtype(np.int32), (), -1),
    "family_tokens": (np.dtype(np.int32), (FAMILY_TOKENS,), -1),
    "family_soundex": (np.dtype(np.int32), (), -1),
    "suffix": (np.dtype(np.int8), (), 0),
    "birth_y": (np.dtype(np.int16), (), 0),
    "birth_m": (np.dtype(np.int8), (), 0),
    "birth_d": (np.dtype(np.int8), (), 0),
    "sex": (np.dtype(np.int8), (), 0),
    "postcode": (np.dtype(np.int32), (), -1),
    "address": (np.dtype(np.int32), (ADDRESS_TOKENS,), -1),
    "address_len": (np.dtype(np.int8), (), 0),
    "address_key": (np.dtype(np.int32), (), -1),
    "city": (np.dtype(np.int32), (), -1),
    "phone": (np.dtype(np.int32), (), -1),
    "email": (np.dtype(np.int32), (), -1),
    "email_local": (np.dtype(np.int32), (), -1),
    "id_system": (np.dtype(np.int32), (IDENTIFIERS,), -1),
    "id_value": (np.dtype(np.int32), (IDENTIFIERS,), -1),
}


class FeatureStore:
    """Column store of normalised records; slots are reused after removal."""

    def __init__(self, capacity: int = 1024) -> None:
        self.names = Vocab(24)  # given names, family names and their words
        self.places = Vocab(32)  # cities
        self.codes = Vocab(40)  # postcodes, phones, e-mails, identifier values, soundex codes
        self.tokens: dict[str, int] = {}  # address words
        self.generic: list[bool] = []  # address word is a street type or direction
        self.systems: dict[str, int] = {}
        self.sources: dict[str, int] = {}
        self.size = 0  # slots ever used (high-water mark)
        self.free: list[int] = []
        self.cols: dict[str, np.ndarray] = {}
        for name, (dtype, shape, fill) in _COLUMNS.items():
            self.cols[name] = np.full((capacity,) + shape, fill, dtype=dtype)

    @property
    def capacity(self) -> int:
        """Rows allocated."""
        return self.cols["alive"].shape[0]

    def add(self, item: Normalised) -> int:
        """Write `item` into a free slot and return the slot."""
        slot = self.free.pop() if self.free else self._next_slot()
        c = self.cols
        names = self.names
        c["alive"][slot] = True
        c["source"][slot] = self.sources.setdefault(item.source, len(self.sources))
        c["given"][slot] = names.id(item.given)
        c["given_alts"][slot] = -1
        for k, word in enumerate(item.given_alts):
            c["given_alts"][slot, k] = names.id(word)
        c["given_initial_only"][slot] = bool(item.given) and len(item.given) == 1
        c["family"][slot] = names.id(item.family)
        c["family_tokens"][slot] = -1
        for k, word in enumerate(item.family_tokens):
            c["family_tokens"][slot, k] = names.id(word)
        c["family_soundex"][slot] = self.codes.id(item.family_soundex)
        c["suffix"][slot] = SUFFIX_CODES.get(item.suffix or "", 0)
        c["birth_y"][slot], c["birth_m"][slot], c["birth_d"][slot] = item.birth
        c["sex"][slot] = SEX_CODES.get(item.sex or "", 0)
        c["postcode"][slot] = self.codes.id(item.postcode)
        c["address"][slot] = -1
        for k, word in enumerate(item.address):
            token = self.tokens.get(word)
            if token is None:
                token = self.tokens[word] = len(self.tokens)
                self.generic.append(word in GENERIC_ADDRESS_TOKENS or word.isdigit())
            c["address"][slot, k] = token
        c["address_len"][slot] = len(item.address)
        c["address_key"][slot] = self.codes.id(" ".join(item.address)) if item.address else -1
        c["city"][slot] = self.places.id(item.city)
        c["phone"][slot] = self.codes.id(item.phone)
        c["email"][slot] = self.codes.id(item.email)
        c["email_local"][slot] = self.codes.id(item.email.split("@")[0]) if item.email else -1
        c["id_system"][slot] = -1
        c["id_value"][slot] = -1
        for k, (system, value) in enumerate(item.identifiers):
            c["id_system"][slot, k] = self.systems.setdefault(system, len(self.systems))
            c["id_value"][slot, k] = self.codes.id(value)
        return slot

    def remove(self, slot: int) -> None:
        """Free `slot` for reuse."""
        self.cols["alive"][slot] = False
        self.free.append(slot)

    def _next_slot(self) -> int:
        if self.size >= self.capacity:
            capacity = 2 * self.capacity
            for name, (_, _, fill) in _COLUMNS.items():
                self.cols[name] = _grow(self.cols[name], capacity, fill)
        self.size += 1
        return self.size - 1


def build_store(items: list[Normalised]) -> tuple[FeatureStore, np.ndarray]:
    """A FeatureStore holding `items`, and their slots in order."""
    store = FeatureStore(capacity=max(1024, len(items)))
    slots = np.fromiter((store.add(item) for item in items), dtype=np.int64, count=len(items))
    return store, slots
