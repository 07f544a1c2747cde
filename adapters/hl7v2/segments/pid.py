"""PID (and PD1, MRG) to Patient, patient keys and merge queries.

HL7 v2-to-FHIR IG: "Segment PID to Patient Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-pid-to-patient.html),
"Segment PD1 to Patient Map" and "Segment MRG to Patient Map"; identifiers use "CX to Identifier", names
"XPN to HumanName", addresses "XAD to Address", telecom "XTN to ContactPoint" (PID-13, PID-14 and the
v2.7+ PID-40, each number once per use).
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.context import Context, Subject
from adapters.hl7v2.datatypes.codes import cwe_concept, fhir_code
from adapters.hl7v2.datatypes.contact import xad_address, xtn_contact
from adapters.hl7v2.datatypes.identifiers import SSN_SYSTEM, cx_identifier, hd_system, identifier_type
from adapters.hl7v2.datatypes.quantity import small_int
from adapters.hl7v2.datatypes.names import name_text, xpn_names
from adapters.hl7v2.datatypes.time import fhir_date, fhir_datetime
from adapters.hl7v2.errors import REQUIRED_FIELD_MISSING, TABLE_VALUE_NOT_FOUND
from adapters.hl7v2.identity import Key, authority_system
from adapters.hl7v2.segments.practitioners import practitioner
from adapters.hl7v2.terminology import GENDER, MARITAL, MARITAL_DISPLAY, V3_MARITAL, V3_NULL
from adapters.hl7v2.tree import Segment, Value

BIRTH_TIME = "http://hl7.org/fhir/StructureDefinition/patient-birthTime"
MOTHERS_MAIDEN_NAME = "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName"
_DECEASED = ("deceasedDateTime", "deceasedBoolean")
_MULTIPLE_BIRTH = ("multipleBirthBoolean", "multipleBirthInteger")
PID_ELEMENTS = {5: ("name",), 6: (f"extension:{MOTHERS_MAIDEN_NAME}",), 7: ("birthDate", "_birthDate"),
                8: ("gender",), 11: ("address",), 13: ("telecom",), 15: ("communication",),
                16: ("maritalStatus",), 24: _MULTIPLE_BIRTH, 29: _DECEASED, 30: _DECEASED}
# PID-13 (home: any use but work) and PID-14 (work) both fill telecom
TELECOM_PARTS = {13: "telecom:!work", 14: "telecom:work"}


def identifier_key(reps: list[Value], default_system: str) -> tuple[Key, dict[str, Any]] | None:
    """The patient key from a CX list: the medical record number (CX-5 `MR`) with an assigning authority,
    else the first with an authority, else the first, scoped to `default_system` (the sending facility);
    the order of the repetitions does not matter. Returns the key and its Identifier."""
    valued = [rep for rep in reps if rep.c(1)]
    with_authority = [rep for rep in valued if hd_system(rep.comp(4))]
    with_authority.sort(key=lambda rep: rep.c(5).upper() != "MR")  # stable: MRs first, each in sent order
    for rep in with_authority:
        identifier = cx_identifier(rep)
        if identifier and identifier.get("system"):
            return Key("Patient", identifier["system"], identifier["value"]), identifier
    first = valued[0] if valued else None
    if first is None:
        return None
    identifier = cx_identifier(first, default_system=default_system) or {}
    identifier["system"] = identifier.get("system") or default_system
    return Key("Patient", identifier["system"], identifier["value"]), identifier


def merge_queries(ctx: Context, mrg: Segment) -> list[str]:
    """The conditional queries naming the patient MRG-1 merges away: its key first, then each other prior
    identifier (empty, with a 101 issue, when MRG-1 is absent)."""
    found = identifier_key(mrg.reps(1), ctx.sender_system)
    if found is None:
        ctx.issue(mrg, 1, REQUIRED_FIELD_MISSING, "MRG-1 (prior patient identifier list) is required", fatal=True)
        return []
    keys = [found[0]]
    for rep in mrg.reps(1):
        identifier = cx_identifier(rep)
        if identifier and identifier.get("system"):
            key = Key("Patient", identifier["system"], identifier["value"])
            if key not in keys:
                keys.append(key)
    return [key.readable_query for key in keys]


def _identifiers(pid: Segment, key_identifier: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [key_identifier]
    candidates = [cx_identifier(rep) for rep in pid.reps(3) + pid.reps(2) + pid.reps(4)]
    ssn = pid.get(19)
    if ssn:
        candidates.append({"system": SSN_SYSTEM, "value": ssn, "type": identifier_type("SS")})
    licence = pid.rep(20)
    if licence.c(1):
        dl: dict[str, Any] = {"value": licence.c(1), "type": identifier_type("DL")}
        if licence.c(2):
            dl["system"] = authority_system(licence.c(2))
        candidates.append(dl)
    for item in candidates:
        if item and not any(item["value"] == other["value"] and item.get("system") in (None, other.get("system"))
                            for other in found):
            found.append(item)
    return found


def _gender(ctx: Context, pid: Segment) -> str | None:
    code = pid.get(8).upper()
    if not code:
        return None
    gender = GENDER.get(code)
    if gender is None:
        ctx.issue(pid, 8, TABLE_VALUE_NOT_FOUND, "PID-8 is not an HL7 table 0001 code", fatal=False)
    return gender


def _marital(pid: Segment) -> dict[str, Any] | None:
    value = pid.rep(16)
    code = value.c(1).upper()
    if not code:
        return cwe_concept(value, "0002")
    mapped = MARITAL.get(code)
    if mapped is None:
        return cwe_concept(value, "0002")
    system = V3_NULL if mapped in ("UNK", "OTH") else V3_MARITAL
    concept: dict[str, Any] = {"coding": [{"system": system, "code": mapped, "display": MARITAL_DISPLAY[mapped]}]}
    if value.c(2):
        concept["text"] = value.c(2)
    return concept


def _birth(ctx: Context, pid: Segment, patient: dict[str, Any]) -> None:
    value = ctx.dtm(pid, 7, fatal=True)
    if value is None:
        return
    patient["birthDate"] = fhir_date(value)
    if value.has_time and value.day is not None:
        patient["_birthDate"] = {"extension": [{"url": BIRTH_TIME, "valueDateTime": fhir_datetime(value, ctx.offset)}]}


def _deceased(ctx: Context, pid: Segment, patient: dict[str, Any]) -> None:
    when = ctx.datetime(pid, 29)
    if when:
        patient["deceasedDateTime"] = when
    elif pid.get(30).upper() in ("Y", "N"):
        patient["deceasedBoolean"] = pid.get(30).upper() == "Y"


def _multiple_birth(pid: Segment, patient: dict[str, Any]) -> None:
    indicator, order = pid.get(24).upper(), small_int(pid.get(25))
    if order is not None and indicator != "N":
        patient["multipleBirthInteger"] = order
    elif indicator in ("Y", "N"):
        patient["multipleBirthBoolean"] = indicator == "Y"


def patient_resource(ctx: Context, pid: Segment, key_identifier: dict[str, Any],
                     pd1: Segment | None = None) -> dict[str, Any]:
    """The Patient described by a PID (and PD1) segment."""
    patient: dict[str, Any] = {"identifier": _identifiers(pid, key_identifier)}
    patient["name"] = [name for rep in pid.reps(5) + pid.reps(9) for name in xpn_names(rep)]
    maiden = pid.rep(6)
    if maiden.s(1, 1):
        patient["extension"] = [{"url": MOTHERS_MAIDEN_NAME, "valueString": maiden.s(1, 1)}]
    gender = _gender(ctx, pid)
    if gender:
        patient["gender"] = gender
    _birth(ctx, pid, patient)
    _deceased(ctx, pid, patient)
    patient["address"] = [a for a in (xad_address(rep) for rep in pid.reps(11)) if a]
    telecom = [xtn_contact(rep, "home") for rep in pid.reps(13)] + [xtn_contact(rep, "work") for rep in pid.reps(14)]
    telecom += [xtn_contact(rep) for rep in pid.reps(40)]  # v2.7+: PID-13/14 are withdrawn in favour of PID-40
    unique = {}
    for contact in telecom:
        if contact:
            unique.setdefault((contact["system"], contact["value"], contact.get("use")), contact)
    patient["telecom"] = list(unique.values())
    patient["maritalStatus"] = _marital(pid)
    language = cwe_concept(pid.rep(15), "0296")
    if language:
        patient["communication"] = [{"language": language, "preferred": True}]
    _multiple_birth(pid, patient)
    if pd1 is not None:
        doctors = [practitioner(ctx, rep) for rep in pd1.reps(4)]
        patient["generalPractitioner"] = [ref for ref in doctors if ref]
    return patient


def map_patient(ctx: Context, pid: Segment, pd1: Segment | None = None) -> Subject | None:
    """Upsert the Patient of a PID segment and make it the current subject (None after a 101 issue)."""
    found = identifier_key(pid.reps(3), ctx.sender_system)
    if found is None:
        ctx.issue(pid, 3, REQUIRED_FIELD_MISSING, "PID-3 (patient identifier list) is required", fatal=True)
        return None
    key, key_identifier = found
    resource = patient_resource(ctx, pid, key_identifier, pd1)
    full_url = ctx.upsert(key, resource, create_only=not ctx.owns_patient)
    ctx.note_update(full_url, pid, PID_ELEMENTS, parts=None if pid.has(40) else TELECOM_PARTS)
    if pd1 is not None:
        ctx.note_update(full_url, pd1, {4: ("generalPractitioner",)})
    display = name_text((resource.get("name") or [None])[0])
    ctx.subject = Subject(key, full_url, display)
    return ctx.subject


def gender_code(text: str) -> str | None:
    """AdministrativeGender for a table 0001 code (used by NK1/IN1 too)."""
    return GENDER.get(fhir_code(text).upper())
