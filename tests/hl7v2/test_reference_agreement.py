"""Key-fact agreement with FHIR-Converter's expected outputs (`*.expected.json` beside the messages).

agreement = reference facts we also produce / reference facts (after the named exclusions below).
Run with `pytest -s` to see the per-kind breakdown of disagreements.

NORMALIZATION (same fact, different but IG-conformant resource shape; applied to both sides in facts.py):
- MDM_OBX_IS_DOCUMENT_CONTENT: IG "MDM_T02 to Bundle" maps the OBX text of a document to
  DocumentReference.content; FHIR-Converter emits one Observation per line. Both become `document.line` facts.
- VXU_OBX_FOLDED_INTO_IMMUNIZATION: IG "RXA to Immunization" with the CDC IIS OBX conventions puts 64994-7
  (eligibility), 30963-3 (funding source) and the VIS OBX 69764-9/29768-9/29769-7 into
  Immunization.programEligibility/fundingSource/education; FHIR-Converter (also) emits Observations.
  Both become `immunization.obx` facts.
- Date/times are compared as instants: FHIR-Converter re-expresses offsets in its build machine's zone
  (+0110 -> +05:30) without changing the instant.

EXCLUSIONS (reference facts not counted, each named, with the IG rule it rests on):
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from adapters.hl7v2 import map_message, parse_message
from adapters.hl7v2.model import ParsedMessage
from tests.hl7v2.facts import Fact, extract
from tests.hl7v2.samples import relative, supported_samples

THRESHOLD = 0.95
PERSON_KINDS = ("patient.identifier", "name.family", "name.given", "address.line", "address.city",
                "address.postalCode", "address.state", "address.country")
# Segments about other parties or out of Tessera's scope: GT1 guarantor, IN1/IN2 insured, DB1 disability,
# CON consent, PDA patient death and autopsy, ACC accident
FOREIGN_SEGMENTS = ("GT1", "IN1", "IN2", "DB1", "CON", "PDA", "ACC")
OWN_SEGMENTS = ("PID", "PD1", "PV1", "PV2", "MRG")


def _values(message: ParsedMessage, names: tuple[str, ...]) -> set[str]:
    found = set()
    for segment in message.segments:
        if segment.name in names:
            for field in range(1, segment.field_count + 1):
                for rep in segment.reps(field):
                    for comp in range(1, len(rep) + 1):
                        found.add(rep.c(comp))
                        found.update(rep.s(comp, sub) for sub in range(1, len(rep.parts[comp - 1]) + 1))
    found.discard("")
    return found


@dataclass(frozen=True)
class Exclusion:
    """A named rule removing reference facts from the comparison."""

    name: str
    rule: str
    applies: Callable[[Fact, ParsedMessage], bool]


def _foreign_party(fact: Fact, message: ParsedMessage) -> bool:
    if fact[0] not in PERSON_KINDS:
        return False
    return fact[1] in _values(message, FOREIGN_SEGMENTS) and fact[1] not in _values(message, OWN_SEGMENTS)


def _addressee(fact: Fact, message: ParsedMessage) -> bool:
    pid = message.first("PID")
    if fact[0] != "address.line" or pid is None:
        return False
    addressees = {rep.c(19) for rep in pid.reps(11)} - {""}
    lines = {rep.s(1, n) for rep in pid.reps(11) for n in (1, 2, 3)} | {rep.c(2) for rep in pid.reps(11)}
    return fact[1] in addressees and fact[1] not in lines


def _death_location(fact: Fact, message: ParsedMessage) -> bool:
    return (fact[0] == "location.name" and fact[1] in _values(message, ("PDA",))
            and fact[1] not in _values(message, ("PV1", "PV2")))


EXCLUSIONS = (
    Exclusion("CONVERTER_SYNTHETIC_OBSERVATIONS",
              "IG 'OBX to Observation': Observations come from OBX. FHIR-Converter invents Observations with "
              "its own code system (example.com/.../observation-code) from PDA (death certificate, autopsy, "
              "coroner) and ACC (injury incident); PDA/ACC are not mapped by Tessera.",
              lambda fact, message: fact[0] == "observation.converter-synthetic"),
    Exclusion("FOREIGN_PARTY_DEMOGRAPHICS",
              "IG 'PID to Patient': Patient.identifier/name/address come from PID-2/3/4/5/9/11/19/20. "
              "FHIR-Converter copies GT1 (guarantor, IG 'GT1 to Account'/'RelatedPerson'), IN1/IN2 (the insured, "
              "IG 'IN1/IN2 to Coverage'), DB1 and CON values onto the Patient, even when they name another "
              "person (e.g. guarantor RADIANT^LUCY, Medicaid case name Jack). Excluded when the value occurs "
              "only in those segments.",
              _foreign_party),
    Exclusion("XAD19_ADDRESSEE_IS_NOT_A_LINE",
              "IG 'XAD to Address' / 'SAD to Address': Address.line comes from SAD.1-3 and XAD.2; XAD.19 "
              "(addressee) is not an address line. FHIR-Converter appends it to Address.line.",
              _addressee),
    Exclusion("DELETED_PERSON",
              "HL7 v2 A29 (delete person information) says the person's record was registered in error. "
              "FHIR-Converter maps its PID to a Patient as for A28; Tessera deletes the stored Patient (refused "
              "while other records name it), so the message writes no fact about the person.",
              lambda fact, message: message.header.trigger_event.upper() == "A29"),
    Exclusion("PDA_DEATH_LOCATION",
              "PDA-2 (death location) is not an Encounter location of PV1/PV2 (IG 'PV1 to Encounter'); "
              "FHIR-Converter adds it to Encounter.location. PDA is not mapped by Tessera.",
              _death_location),
)
__doc__ += "\n".join(f"- {e.name}: {e.rule}" for e in EXCLUSIONS)


@dataclass
class Agreement:
    """Counts per fact kind."""

    total: Counter
    missed: Counter
    excluded: Counter
    examples: dict
    raw_matched: int = 0
    raw_total: int = 0

    @property
    def fraction(self) -> float:
        """Matched reference facts / counted reference facts."""
        total = sum(self.total.values())
        return (total - sum(self.missed.values())) / total if total else 0.0


def _pairs() -> list[tuple[Path, Path]]:
    pairs = []
    for path in supported_samples():
        expected = path.with_name(path.stem + ".expected.json")
        if expected.exists():
            pairs.append((path, expected))
    return pairs


@lru_cache(maxsize=1)
def agreement() -> Agreement:
    """Compare every supported sample that has a reference output."""
    total, missed, excluded = Counter(), Counter(), Counter()
    examples: dict[str, list] = defaultdict(list)
    raw_matched = raw_total = 0
    for path, expected in _pairs():
        message = parse_message(path.read_bytes())
        kind = message.header.message_type.upper()
        ours = extract(map_message(message, raw_message_id="1", received_at="2024-01-01T00:00:00Z").bundle, kind)
        reference = extract(json.loads(expected.read_text("utf-8")), kind)
        raw_total += len(reference)
        raw_matched += len(reference & ours)
        for fact in sorted(reference):
            rule = next((e.name for e in EXCLUSIONS if e.applies(fact, message)), None)
            if rule:
                excluded[rule] += 1
                continue
            total[fact[0]] += 1
            if fact not in ours:
                missed[fact[0]] += 1
                examples[fact[0]].append((relative(path), fact[1:]))
    return Agreement(total, missed, excluded, examples, raw_matched, raw_total)


def test_there_are_reference_pairs():
    assert len(_pairs()) >= 30


def test_key_fact_agreement_with_fhir_converter():
    result = agreement()
    print(f"\nkey-fact agreement with FHIR-Converter: {result.fraction:.4f} "
          f"({sum(result.total.values()) - sum(result.missed.values())}/{sum(result.total.values())} facts)")
    for kind in sorted(result.total):
        print(f"  {kind:28} {result.total[kind] - result.missed[kind]:4}/{result.total[kind]:<4}"
              + (f" missed: {result.examples[kind][:4]}" if result.missed[kind] else ""))
    for name, count in sorted(result.excluded.items()):
        print(f"  excluded {name}: {count}")
    print(f"  without any exclusion: {result.raw_matched / result.raw_total:.4f} "
          f"({result.raw_matched}/{result.raw_total} facts)")
    assert result.fraction >= THRESHOLD
