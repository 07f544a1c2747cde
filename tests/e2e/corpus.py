"""Expected answers computed from the Synthea bundle files with plain Python (no product code).

Everything here reads the JSON files directly and implements the FHIR R4 search semantics the
e2e tests need (string folding, token matching, date ranges with prefixes, quantities) on its
own, so that the server's answers can be compared with an independent computation.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

from tests.conftest import shared_data

SYNTHEA_SYSTEM = "https://github.com/synthetichealth/synthea"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
CVX = "http://hl7.org/fhir/sid/cvx"
UCUM = "http://unitsofmeasure.org"

# Which element of each clinical type points at the patient (the `patient` search parameter).
PATIENT_ELEMENT = {
    "Observation": "subject", "Condition": "subject", "Encounter": "subject", "MedicationRequest": "subject",
    "DiagnosticReport": "subject", "Procedure": "subject", "Immunization": "patient",
    "AllergyIntolerance": "patient",
}


# --------------------------------------------------------------------------- the files


@dataclass
class Entry:
    """One entry of a Synthea bundle file."""

    folder: str
    file: str
    index: int
    full_url: str | None
    resource: dict[str, Any]
    request: dict[str, Any]

    @property
    def type(self) -> str:
        return self.resource["resourceType"]


@dataclass
class BundleFile:
    """One Synthea bundle file and its parsed content."""

    path: Path
    folder: str
    kind: str
    entries: list[Entry] = field(default_factory=list)

    @property
    def patient(self) -> Entry | None:
        found = [e for e in self.entries if e.type == "Patient"]
        return found[0] if len(found) == 1 else None


def synthea_folder() -> Path:
    return shared_data("fhir-r4", "synthea")


@lru_cache(maxsize=1)
def load_order() -> tuple[BundleFile, ...]:
    """Every Synthea bundle in the order the server must receive them.

    fhir-data-pipes-2021: the hospital and practitioner batch bundles first (their entries carry
    ifNoneExist and the patient bundles name them by conditional references), then every patient
    transaction bundle of both folders.
    """
    root = synthea_folder()
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    assert [f.name for f in folders] == ["fhir-data-pipes-2021", "smart-2019"], folders
    shared_first, patients = [], []
    for folder in folders:
        for path in sorted(folder.glob("*.json")):
            if path.name.startswith("hospitalInformation"):
                shared_first.insert(0, path)
            elif path.name.startswith("practitionerInformation"):
                shared_first.append(path)
            else:
                patients.append(path)
    files = []
    for path in [*shared_first, *patients]:
        raw = json.loads(path.read_bytes())
        bundle = BundleFile(path, path.parent.name, raw["type"])
        for index, item in enumerate(raw["entry"]):
            bundle.entries.append(Entry(path.parent.name, path.name, index, item.get("fullUrl"),
                                        item["resource"], item["request"]))
        files.append(bundle)
    return tuple(files)


def all_entries() -> list[Entry]:
    return [e for b in load_order() for e in b.entries]


def resources(resource_type: str) -> list[Entry]:
    return [e for e in all_entries() if e.type == resource_type]


def identifier_value(resource: dict[str, Any], system: str) -> str | None:
    for identifier in resource.get("identifier") or []:
        if identifier.get("system") == system:
            return identifier.get("value")
    return None


def patients() -> list[Entry]:
    return resources("Patient")


@lru_cache(maxsize=1)
def _by_full_url() -> dict[tuple[str, str], Entry]:
    return {(e.file, e.full_url): e for e in all_entries() if e.full_url}


def patient_of(entry: Entry) -> Entry | None:
    """The Patient entry (in the same file) that a clinical resource belongs to."""
    element = PATIENT_ELEMENT.get(entry.type)
    reference = (entry.resource.get(element) or {}).get("reference") if element else None
    target = _by_full_url().get((entry.file, reference)) if reference else None
    return target if target is not None and target.type == "Patient" else None


def patient_key(entry: Entry) -> str:
    """The Synthea identifier value of a Patient entry."""
    value = identifier_value(entry.resource, SYNTHEA_SYSTEM)
    assert value, f"{entry.file}: Patient without a Synthea identifier"
    return value


def clinical_of(patient: Entry, resource_type: str) -> list[Entry]:
    """The resources of `resource_type` whose patient reference names `patient`."""
    return [e for e in resources(resource_type) if e.file == patient.file and patient_of(e) is patient]


def expected_created_resources() -> int:
    """How many resources a fresh server ends up with: every entry, except a conditional create
    (ifNoneExist) whose identifier an earlier entry of the load already created."""
    seen: set[tuple[str, str]] = set()
    created = 0
    for entry in all_entries():
        condition = entry.request.get("ifNoneExist")
        if condition:
            key = (entry.type, condition)
            if key in seen:
                continue
            seen.add(key)
        created += 1
    return created


# --------------------------------------------------------------------------- strings


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a string (FHIR string search normalisation)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def name_parts(name: dict[str, Any]) -> list[str]:
    """The strings a HumanName exposes to the `name` parameter."""
    parts = [name.get("family"), name.get("text")]
    for key in ("given", "prefix", "suffix"):
        parts.extend(name.get(key) or [])
    return [p for p in parts if p]


def string_matches(values: Iterable[str], search: str, modifier: str | None = None) -> bool:
    for value in values:
        if modifier == "exact" and value == search:
            return True
        if modifier == "contains" and fold(search) in fold(value):
            return True
        if modifier is None and fold(value).startswith(fold(search)):
            return True
    return False


# --------------------------------------------------------------------------- tokens


def codings(concept: dict[str, Any] | None) -> list[dict[str, Any]]:
    return list((concept or {}).get("coding") or [])


def token_matches(concept: dict[str, Any] | None, search: str) -> bool:
    """`system|code`, `code`, `|code` or `system|` against a CodeableConcept."""
    if "|" in search:
        system, code = search.split("|", 1)
        for coding in codings(concept):
            if system and coding.get("system") != system:
                continue
            if not system and coding.get("system"):
                continue
            if code and coding.get("code") != code:
                continue
            return True
        return False
    return any(coding.get("code") == search for coding in codings(concept))


# --------------------------------------------------------------------------- dates

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
                   r"(Z|[+-]\d{2}:\d{2})?)?)?)?$")
NEG_INF = datetime.min.replace(tzinfo=timezone.utc)
POS_INF = datetime.max.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Span:
    """A half-open time range [low, high)."""

    low: datetime
    high: datetime


def span(text: str, local_offset: timedelta = timedelta(0)) -> Span:
    """The range a FHIR date/dateTime/instant stands for.

    A value is as wide as its precision: "2015" is the whole year, a dateTime with seconds one
    second. Values without a time zone (dates, and search values) are read in a zone
    `local_offset` east of UTC.
    """
    match = _DATE.match(text)
    assert match, f"not a FHIR date: {text!r}"
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if zone is None:
        tz = timezone(local_offset)
    elif zone == "Z":
        tz = timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    if month is None:
        low = datetime(int(year), 1, 1, tzinfo=tz)
        high = datetime(int(year) + 1, 1, 1, tzinfo=tz)
    elif day is None:
        low = datetime(int(year), int(month), 1, tzinfo=tz)
        next_year, next_month = (int(year) + 1, 1) if month == "12" else (int(year), int(month) + 1)
        high = datetime(next_year, next_month, 1, tzinfo=tz)
    elif hour is None:
        low = datetime(int(year), int(month), int(day), tzinfo=tz)
        high = low + timedelta(days=1)
    else:
        low = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=tz)
        if fraction:
            low += timedelta(microseconds=int(fraction[:6].ljust(6, "0")))
            high = low + timedelta(microseconds=10 ** (6 - min(len(fraction), 6)))
        elif second is not None:
            high = low + timedelta(seconds=1)
        else:
            high = low + timedelta(minutes=1)
    return Span(low.astimezone(timezone.utc), high.astimezone(timezone.utc))


def period_span(period: dict[str, Any], local_offset: timedelta = timedelta(0)) -> Span:
    low = span(period["start"], local_offset).low if period.get("start") else NEG_INF
    high = span(period["end"], local_offset).high if period.get("end") else POS_INF
    return Span(low, high)


def date_matches(target: Span, search: str, local_offset: timedelta = timedelta(0)) -> bool:
    """FHIR date search: `search` (with an optional prefix) against a resource's range."""
    prefix = search[:2] if search[:2] in ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb") else "eq"
    value = span(search[2:] if search[:2] == prefix else search, local_offset)
    contained = value.low <= target.low and target.high <= value.high
    if prefix == "eq":
        return contained
    if prefix == "ne":
        return not contained
    if prefix == "gt":
        return target.high > value.high
    if prefix == "lt":
        return target.low < value.low
    if prefix == "ge":
        return target.high > value.high or contained
    if prefix == "le":
        return target.low < value.low or contained
    if prefix == "sa":
        return target.low >= value.high
    return target.high <= value.low  # eb


def unambiguous_matches(items: Iterable[Any], spans: Callable[[Any, timedelta], list[Span]],
                        searches: list[str]) -> list[Any]:
    """The items matching every search value (AND), the same under any reading of zone-less values.

    Zone-less values (a search value, a birthDate) are in the server's local time, which FHIR
    leaves open; a test case is only usable when the answer is the same for UTC-14:00 … UTC+14:00.
    """
    items = list(items)
    answers: dict[tuple[int, ...], list[int]] = {}
    for hours in (-14, -5, 0, 5, 14):
        offset = timedelta(hours=hours)
        chosen = tuple(i for i, item in enumerate(items)
                       if any(all(date_matches(s, v, offset) for v in searches) for s in spans(item, offset)))
        answers.setdefault(chosen, []).append(hours)
    assert len(answers) == 1, f"ambiguous test case {searches}: {[(len(k), v) for k, v in answers.items()]}"
    return [items[i] for i in next(iter(answers))]


def observation_spans(entry: Entry, offset: timedelta) -> list[Span]:
    r = entry.resource
    if "effectiveDateTime" in r:
        return [span(r["effectiveDateTime"], offset)]
    if "effectiveInstant" in r:
        return [span(r["effectiveInstant"], offset)]
    if "effectivePeriod" in r:
        return [period_span(r["effectivePeriod"], offset)]
    return []


def encounter_spans(entry: Entry, offset: timedelta) -> list[Span]:
    period = entry.resource.get("period")
    return [period_span(period, offset)] if period else []


def birthdate_spans(entry: Entry, offset: timedelta) -> list[Span]:
    birth = entry.resource.get("birthDate")
    return [span(birth, offset)] if birth else []


def instant(text: str) -> datetime:
    """The start of a dateTime as an aware datetime (for ordering)."""
    return span(text).low


# --------------------------------------------------------------------------- quantities


def quantity_matches(quantity: dict[str, Any] | None, search: str) -> bool:
    """`[prefix]number|system|code` against a Quantity.

    `eq` (or no prefix) and `ne` use the implicit precision of the number: `70` is [69.5, 70.5),
    `70.0` is [69.95, 70.05). `gt lt ge le` compare with the exact number (FHIR R4 3.1.1.4.2).
    """
    if not quantity or "value" not in quantity:
        return False
    number, _, unit = search.partition("|")
    prefix = number[:2] if number[:2] in ("eq", "ne", "gt", "lt", "ge", "le") else "eq"
    text = number[2:] if number[:2] == prefix else number
    if unit:
        system, _, code = unit.partition("|")
        if system:
            if quantity.get("system") != system or quantity.get("code") != code:
                return False
        elif code not in (quantity.get("code"), quantity.get("unit")):
            return False
    value, threshold = Decimal(str(quantity["value"])), Decimal(text)
    if prefix in ("eq", "ne"):
        half = Decimal(5) * Decimal(10) ** (threshold.as_tuple().exponent - 1)
        return (threshold - half <= value < threshold + half) == (prefix == "eq")
    return {"gt": value > threshold, "lt": value < threshold, "ge": value >= threshold,
            "le": value <= threshold}[prefix]


def spans_of(element: str) -> Callable[[Entry, timedelta], list[Span]]:
    """A spans function for a date/dateTime/Period element chosen by name prefix (`performed`, …)."""
    def spans(entry: Entry, offset: timedelta) -> list[Span]:
        found = []
        for key, value in entry.resource.items():
            if key == element or (key.startswith(element) and key[len(element):] in ("DateTime", "Period", "Instant")):
                found.append(period_span(value, offset) if isinstance(value, dict) else span(value, offset))
        return found
    return spans
