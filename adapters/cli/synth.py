"""`tessera synth`: synthetic institutions with overlapping, realistically corrupted patient populations.

Each person is registered at one or more institutions; every registration may carry typos, nicknames,
day/month swaps, a move, missing fields or a married name. Households share addresses and phones; some
hold twins. Output per institution: HL7 v2 ADT^A04 messages (.hl7) and FHIR Patients (.ndjson); plus
truth.csv (institution, patient id, mrn, person) naming which records are the same person.
"""
from __future__ import annotations

import csv
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

GIVEN_F = ["Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
           "Nancy", "Margaret", "Lisa", "Betty", "Dorothy", "Sandra", "Ashley", "Kimberly", "Donna", "Emily",
           "Catherine", "Rebecca", "Katherine", "Christine", "Deborah", "Rachel", "Laura", "Amy", "Anna", "Maria"]
GIVEN_M = ["James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles",
           "Christopher", "Daniel", "Matthew", "Anthony", "Donald", "Steven", "Andrew", "Joshua", "Kenneth",
           "Kevin", "Brian", "George", "Edward", "Ronald", "Timothy", "Jason", "Jeffrey", "Ryan", "Jacob", "Gary"]
NICKNAMES = {"James": "Jim", "John": "Jack", "Robert": "Bob", "Michael": "Mike", "William": "Bill",
             "Richard": "Dick", "Joseph": "Joe", "Thomas": "Tom", "Charles": "Charlie", "Christopher": "Chris",
             "Daniel": "Dan", "Matthew": "Matt", "Anthony": "Tony", "Steven": "Steve", "Andrew": "Andy",
             "Elizabeth": "Liz", "Patricia": "Pat", "Jennifer": "Jen", "Margaret": "Peggy", "Susan": "Sue",
             "Katherine": "Kate", "Catherine": "Cathy", "Rebecca": "Becky", "Deborah": "Debbie", "Kimberly": "Kim",
             "Edward": "Ed", "Kenneth": "Ken", "Timothy": "Tim", "Jeffrey": "Jeff", "Donald": "Don"}
FAMILY = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
          "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
          "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
          "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
          "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Kowalski",
          "Szepessy", "O'Brien", "Okafor", "Haddad", "Novak", "Lindqvist", "Papadopoulos", "Ivanova", "Tanaka"]
STREETS = ["Main St", "Oak Ave", "Pine Rd", "Maple Dr", "Cedar Ln", "Elm St", "Washington Ave", "Lake Rd",
           "Hill St", "Park Ave", "Sunset Blvd", "River Rd", "Church St", "Mill Rd", "Forest Dr", "Spring St"]
CITIES = [("Springfield", "62701"), ("Riverside", "92501"), ("Franklin", "37064"), ("Greenville", "29601"),
          ("Bristol", "06010"), ("Clinton", "20735"), ("Fairview", "07022"), ("Salem", "97301")]


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
    city, postcode = rng.choice(CITIES)
    return {"family": rng.choice(FAMILY), "line": f"{rng.randint(1, 9999)} {rng.choice(STREETS)}", "city": city,
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
            given = rng.choice(GIVEN_M if sex == "M" else GIVEN_F)
            if not (twins and member == 1 and birth):
                birth = f"{rng.randint(1935, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            while twins and member == 1 and given == out[-1].given:
                given = rng.choice(GIVEN_M if sex == "M" else GIVEN_F)
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
        p = replace(p, family=rng.choice(FAMILY))  # married name
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
