"""`tessera synth`: synthetic institutions with overlapping, realistically corrupted patient populations.

Each person is registered at one or more institutions; every registration may carry typos, nicknames,
day/month swaps, a move, missing fields or a married name. Households share addresses and phones; some
hold twins (named apart: never one name and its nickname). Names and towns come from `synth_names`, common
ones more often. Output per institution: HL7 v2 ADT^A04 messages (.hl7) and FHIR Patients (.ndjson); plus
truth.csv (institution, patient id, mrn, person) naming which records are the same person.
"""
from __future__ import annotations

import csv
import random
from dataclasses import dataclass, replace
from itertools import accumulate
from pathlib import Path
from typing import Any

import orjson

from adapters.cli.synth_names import CITIES, FAMILY, GIVEN_F, GIVEN_M, NICKNAMES, STREETS
from engine.identity.nicknames import are_nicknames


def _cumulative(size: int, exponent: float, offset: int) -> list[float]:
    """Zipf-like cumulative weights: rank r weighs 1 / (r + offset) ** exponent."""
    return list(accumulate(1.0 / (rank + offset) ** exponent for rank in range(size)))


_WEIGHTS = {"F": _cumulative(len(GIVEN_F), 1.0, 10), "M": _cumulative(len(GIVEN_M), 1.0, 10),
            "family": _cumulative(len(FAMILY), 0.8, 10)}


def pick_given(sex: str, rng: random.Random) -> str:
    """A given name for `sex` ("M" / "F"), common names more often."""
    return rng.choices(GIVEN_M if sex == "M" else GIVEN_F, cum_weights=_WEIGHTS[sex])[0]


def pick_family(rng: random.Random) -> str:
    """A family name, common names more often."""
    return rng.choices(FAMILY, cum_weights=_WEIGHTS["family"])[0]


@dataclass(frozen=True)
class Person:
    """The truth about one synthetic person."""

    person: str
    given: str
    family: str
    sex: str
    birth: str
    line: str
    city: str
    postcode: str
    phone: str | None
    ssn: str | None


def _household(rng: random.Random) -> dict[str, Any]:
    city, postcodes = rng.choice(CITIES)
    postcode = rng.choice(postcodes)
    return {"family": pick_family(rng), "line": f"{rng.randint(1, 9999)} {rng.choice(STREETS)}", "city": city,
            "postcode": postcode, "phone": f"555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"}


def people(count: int, rng: random.Random) -> list[Person]:
    """`count` persons in households of 1 to 4, some with twins (same birth date, different given name)."""
    out: list[Person] = []
    while len(out) < count:
        home = _household(rng)
        size = rng.choice([1, 1, 1, 2, 2, 3, 4])
        twins = size >= 2 and rng.random() < 0.15
        birth = None
        for member in range(size):
            sex = rng.choice("MF")
            given = pick_given(sex, rng)
            if not (twins and member == 1 and birth):
                birth = f"{rng.randint(1935, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            # twins get names of their own, not variants of one name (Elizabeth / Betty)
            while twins and member == 1 and (given == out[-1].given or are_nicknames(given, out[-1].given)):
                given = pick_given(sex, rng)
            ssn = f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}" if rng.random() < 0.5 else None
            out.append(Person(f"P{len(out):06d}", given, home["family"], sex, birth, home["line"], home["city"],
                              home["postcode"], home["phone"] if rng.random() < 0.8 else None, ssn))
    return out[:count]


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    if kind == 1:
        return text[:i] + text[i + 1:]
    return text[:i] + rng.choice("aeiourstnl") + text[i + 1:]


def corrupt(person: Person, rng: random.Random, rate: float) -> Person:
    """One institution's version of `person`: each corruption applies with probability `rate`."""
    p = person
    if rng.random() < rate:
        p = replace(p, given=NICKNAMES.get(p.given, _typo(p.given, rng)))
    if rng.random() < rate:
        p = replace(p, family=_typo(p.family, rng))
    if rng.random() < rate / 2:
        y, m, d = p.birth.split("-")
        if int(d) <= 12:
            p = replace(p, birth=f"{y}-{d}-{m}")
    if rng.random() < rate / 2:
        home = _household(rng)
        p = replace(p, line=home["line"], city=home["city"], postcode=home["postcode"])
    if p.sex == "F" and rng.random() < rate / 2:
        p = replace(p, family=pick_family(rng))  # married name
    if rng.random() < rate:
        p = replace(p, phone=None)
    if rng.random() < rate:
        p = replace(p, ssn=None)
    if rng.random() < rate / 3:
        p = replace(p, line="", postcode="")
    return p


def patient_resource(p: Person, institution: str, mrn: str) -> dict[str, Any]:
    """The FHIR R4 Patient of one registration."""
    body: dict[str, Any] = {"resourceType": "Patient", "id": f"{institution}-{mrn}",
                            "identifier": [{"system": f"urn:tessera:mrn:{institution}", "value": mrn}],
                            "name": [{"use": "official", "family": p.family, "given": [p.given]}],
                            "gender": {"M": "male", "F": "female"}[p.sex], "birthDate": p.birth}
    if p.ssn:
        body["identifier"].append({"system": "http://hl7.org/fhir/sid/us-ssn", "value": p.ssn})
    if p.line or p.postcode:
        body["address"] = [{"use": "home", "line": [p.line] if p.line else [], "city": p.city,
                            "postalCode": p.postcode}]
        body["address"][0] = {k: v for k, v in body["address"][0].items() if v}
    if p.phone:
        body["telecom"] = [{"system": "phone", "value": p.phone, "use": "home"}]
    return body


def adt_message(p: Person, institution: str, mrn: str, control: int) -> str:
    """An HL7 v2.5.1 ADT^A04 registering `p` at `institution`."""
    ids = f"{mrn}^^^{institution.upper()}^MR" + (f"~{p.ssn}^^^SSA^SS" if p.ssn else "")
    return "\r".join([
        f"MSH|^~\\&|REG|{institution.upper()}|TESSERA|TESSERA|20260101120000||ADT^A04^ADT_A01|{institution}-{control}|P|2.5.1",
        "EVN|A04|20260101120000",
        f"PID|1||{ids}||{p.family}^{p.given}||{p.birth.replace('-', '')}|{p.sex}|||"
        f"{p.line}^^{p.city}^^{p.postcode}||{p.phone or ''}",
        "PV1|1|O",
    ]) + "\r"


def generate(*, institutions: int, patients: int, seed: int = 0, overlap: float = 0.4, rate: float = 0.3
             ) -> tuple[dict[str, list[tuple[str, Person]]], list[Person]]:
    """Registrations per institution ((mrn, version) lists) and the true persons."""
    rng = random.Random(seed)
    persons = people(patients, rng)
    names = [f"inst{k + 1}" for k in range(institutions)]
    registrations: dict[str, list[tuple[str, Person]]] = {name: [] for name in names}
    for person in persons:
        home = rng.choice(names)
        places = {home} | {n for n in names if n != home and rng.random() < overlap}
        for name in sorted(places):
            version = person if name == home else corrupt(person, rng, rate)
            registrations[name].append((f"{len(registrations[name]) + 1:07d}", version))
    return registrations, persons


def write(out: Path, registrations: dict[str, list[tuple[str, Person]]]) -> dict[str, int]:
    """Write <inst>.hl7, <inst>.ndjson and truth.csv under `out`; the number of records per institution."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "truth.csv").open("w", newline="") as handle:
        truth = csv.writer(handle)
        truth.writerow(["institution", "patient_id", "mrn", "person"])
        for institution, rows in registrations.items():
            with (out / f"{institution}.hl7").open("w", newline="") as hl7, (out / f"{institution}.ndjson").open("wb") as nd:
                for n, (mrn, person) in enumerate(rows):
                    hl7.write(adt_message(person, institution, mrn, n) + "\n")
                    nd.write(orjson.dumps(patient_resource(person, institution, mrn)) + b"\n")
                    truth.writerow([institution, f"{institution}-{mrn}", mrn, person.person])
    return {institution: len(rows) for institution, rows in registrations.items()}


def run_synth(*, institutions: int, patients: int, out: str, seed: int) -> int:
    """The `tessera synth` command."""
    registrations, _ = generate(institutions=institutions, patients=patients, seed=seed)
    counts = write(Path(out), registrations)
    print(f"synth: {sum(counts.values())} records of {patients} persons at {institutions} institutions in {out}")  # noqa: T201
    return 0
