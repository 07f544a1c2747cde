"""A synthetic patient population with known duplicates, for training and timing the matcher."""

from __future__ import annotations

import random
from itertools import accumulate
from dataclasses import replace

from engine.identity import PersonRecord

SSN = "http://hl7.org/fhir/sid/us-ssn"
_SYLLABLES = [
    "an",
    "ber",
    "ca",
    "dor",
    "el",
    "fi",
    "gar",
    "ha",
    "in",
    "jo",
    "ka",
    "lin",
    "ma",
    "no",
    "or",
    "pe",
    "qui",
    "ra",
    "sa",
    "to",
    "ul",
    "va",
    "wen",
    "xi",
    "ya",
    "zo",
    "bri",
    "chi",
    "dan",
    "ett",
    "fra",
    "gil",
    "hol",
    "ing",
    "jen",
    "kel",
    "lor",
    "mon",
    "ney",
    "ost",
    "pri",
    "rus",
    "sten",
    "tha",
]
_REAL_GIVEN = [
    "john",
    "mary",
    "robert",
    "william",
    "margaret",
    "elizabeth",
    "james",
    "patricia",
    "michael",
    "jennifer",
    "david",
    "linda",
    "richard",
    "barbara",
    "joseph",
    "susan",
    "thomas",
    "jessica",
]
_STREET_TYPES = ["street", "road", "avenue", "drive", "court", "place", "lane", "crescent"]
_NICKNAMES = {
    "robert": "bob",
    "william": "bill",
    "margaret": "peggy",
    "elizabeth": "liz",
    "james": "jim",
    "michael": "mike",
    "richard": "dick",
    "joseph": "joe",
    "thomas": "tom",
    "patricia": "pat",
}


def _word(rng: random.Random, low: int, high: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(low, high)))


def _pool(rng: random.Random, size: int, low: int, high: int, extra: list[str] | None = None) -> list[str]:
    seen: set[str] = set(extra or [])
    out = list(extra or [])
    while len(out) < size:
        word = _word(rng, low, high)
        if word not in seen:
            seen.add(word)
            out.append(word)
    return out


def _zipf_cumulative(size: int, exponent: float = 1.0) -> list[float]:
    return list(accumulate(1.0 / (rank + 1) ** exponent for rank in range(size)))


def typo(rng: random.Random, text: str) -> str:
    """One random keying slip: substitution, deletion, insertion or adjacent transposition."""
    if len(text) < 3:
        return text + rng.choice("aeiou")
    k = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return text[:k] + rng.choice("abcdefghijklmnopqrstuvwxyz") + text[k + 1 :]
    if kind == 1:
        return text[:k] + text[k + 1 :]
    if kind == 2:
        return text[:k] + rng.choice("aeiou") + text[k:]
    return text[: k - 1] + text[k] + text[k - 1] + text[k + 1 :]


class Population:
    """Name, street and place pools with realistic skew (Zipf family names, skewed given names)."""

    def __init__(self, seed: int = 7) -> None:
        rng = self.rng = random.Random(seed)
        self.given = _pool(rng, 3000, 2, 3, _REAL_GIVEN)
        self.family = _pool(rng, 12000, 2, 4)
        self.streets = _pool(rng, 4000, 2, 3)
        self.cities = _pool(rng, 600, 2, 3)
        self.postcodes = [(f"{rng.randrange(1000, 99999):05d}", rng.choice(self.cities)) for _ in range(3000)]
        self.given_w = _zipf_cumulative(len(self.given), 0.9)
        self.family_w = _zipf_cumulative(len(self.family), 0.9)

    def person(self, number: int, source: str) -> PersonRecord:
        """A fresh random person."""
        rng = self.rng
        given = rng.choices(self.given, cum_weights=self.given_w)[0]
        postcode, city = rng.choice(self.postcodes)
        middle = (rng.choices(self.given, cum_weights=self.given_w)[0],) if rng.random() < 0.3 else ()
        return PersonRecord(
            record_id=f"p{number}-{source}",
            source=source,
            given=(given.title(),) + tuple(m.title() for m in middle),
            family=rng.choices(self.family, cum_weights=self.family_w)[0].title(),
            birth_date=f"{rng.randint(1930, 2015)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            sex=rng.choice(["male", "female"]),
            postcode=postcode,
            address=f"{rng.randint(1, 400)} {rng.choice(self.streets).title()} "
            f"{rng.choice(_STREET_TYPES).title()}",
            city=city.title(),
            phone=f"({rng.randint(200, 999)}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
            if rng.random() < 0.7
            else None,
            email=None,
            identifiers=((SSN, f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"),)
            if rng.random() < 0.6
            else (),
        )

    def duplicate(self, record: PersonRecord, record_id: str, source: str) -> PersonRecord:
        """Another institution's record of the same person: typos, a nickname, missing or changed fields."""
        rng = self.rng
        given, family, birth = list(record.given), record.family, record.birth_date
        if rng.random() < 0.15 and given:
            given[0] = typo(rng, given[0].lower()).title()
        elif rng.random() < 0.05 and given and given[0].lower() in _NICKNAMES:
            given[0] = _NICKNAMES[given[0].lower()].title()
        if rng.random() < 0.15 and family:
            family = typo(rng, family.lower()).title()
        if rng.random() < 0.06 and birth:
            y, m, d = birth.split("-")
            birth = rng.choice(
                [
                    f"{y}-{d}-{m}" if int(d) <= 12 else f"{y}-{m}-{int(d) % 28 + 1:02d}",
                    f"{int(y) + 1}-{m}-{d}",
                    f"{y}-{int(m) % 12 + 1:02d}-{d}",
                ]
            )
        changes: dict = {"given": tuple(given), "family": family, "birth_date": birth}
        if rng.random() < 0.10:
            postcode, city = rng.choice(self.postcodes)
            changes.update(
                postcode=postcode,
                city=city.title(),
                address=f"{rng.randint(1, 400)} {rng.choice(self.streets).title()} Road",
            )
        if rng.random() < 0.3:
            changes["phone"] = None
        if rng.random() < 0.3:
            changes["identifiers"] = ()
        if rng.random() < 0.05:
            changes["sex"] = None
        return replace(record, record_id=record_id, source=source, **changes)


def population(
    size: int,
    *,
    duplicate_share: float = 0.2,
    seed: int = 7,
    sources: tuple[str, ...] = ("hospital-a", "hospital-b", "clinic-c"),
) -> tuple[list[PersonRecord], dict[str, int]]:
    """`size` records, about `duplicate_share` of them duplicates; and record id -> person number."""
    pool = Population(seed)
    rng = pool.rng
    originals = int(size * (1 - duplicate_share))
    records: list[PersonRecord] = []
    person: dict[str, int] = {}
    for n in range(originals):
        record = pool.person(n, rng.choice(sources))
        records.append(record)
        person[record.record_id] = n
    for k in range(size - originals):
        n = rng.randrange(originals)
        record = pool.duplicate(records[n], f"p{n}-dup{k}", rng.choice(sources))
        records.append(record)
        person[record.record_id] = n
    return records, person
