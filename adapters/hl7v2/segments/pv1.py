"""PV1 (and PV2) to Encounter, keyed by the visit number PV1-19.

HL7 v2-to-FHIR IG: "Segment PV1 to Encounter Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-pv1-to-encounter.html),
"Segment PV2 to Encounter Map", "Table HL70004 to Encounter Class" and "Table HL70003 to Encounter Status"
(A01/A02/A13 in-progress, A03 finished, A05/A14 planned, A11 cancelled). Deviations: A04 gives `arrived`
(the IG says planned, but a registered outpatient is present), A08/A28/A31 derive the status from PV1-44/45
instead of `unknown` so an update never regresses a known status. Events the table leaves out follow their
HL7 v2 chapter 3 meaning: leave of absence A21 (and a cancelled return A53) `onleave`, its return A22 (and a
cancelled leave A52) `in-progress`, cancelled pending admit A27 and pre-admit A38 `cancelled`, deleted visit
A23 `entered-in-error`; tracking, pending and doctor events (A09 A10 A12 A15 A16 A25 A26 A32 A33 A54 A55)
change no status and derive it as A08 does, without the location or plan they cancel. Period: PV1-44/45 only; the expected admit
and discharge dates PV2-8/9 are plans (R5 plannedStartDate/plannedEndDate extensions, per the IG), never the
period. Locations: the most granular Location, chained by partOf;
PV1-3 is planned for a pre-admit (PV1-2 = P, per the IG) or planned visit, completed once the visit ended.
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.codes import cwe_concept, table_concept
from adapters.hl7v2.datatypes.identifiers import cx_identifier, hd_system
from adapters.hl7v2.errors import REQUIRED_FIELD_MISSING, TABLE_VALUE_NOT_FOUND
from adapters.hl7v2.identity import Key, synthetic_key
from adapters.hl7v2.segments.locations import location
from adapters.hl7v2.segments.practitioners import organization, organization_hd, practitioner
from adapters.hl7v2.terminology import PATIENT_CLASS, V2, V3_ACT_CODE, V3_NULL, V3_PARTICIPATION
from adapters.hl7v2.tree import Segment

STATUS_BY_TRIGGER = {"A01": "in-progress", "A02": "in-progress", "A06": "in-progress", "A07": "in-progress",
                     "A13": "in-progress", "A03": "finished", "A04": "arrived", "A05": "planned",
                     "A14": "planned", "A11": "cancelled", "A21": "onleave", "A22": "in-progress",
                     "A52": "in-progress", "A53": "onleave", "A27": "cancelled", "A38": "cancelled",
                     "A23": "entered-in-error"}
# locations a cancelling event names as what it undoes, never as where the patient is or was: the erroneous
# transfer's location (A12 PV1-6), the pending transfer's (A26 PV1-42, PV2-1), the tracked one (A32/A33 PV1-11)
UNDONE_PLACES = {"A12": {("PV1", 6)}, "A26": {("PV1", 42), ("PV2", 1)},
                 "A32": {("PV1", 11)}, "A33": {("PV1", 11)}}
# R5 Encounter.plannedStartDate / plannedEndDate as R4 cross-version extensions
PLANNED_START = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedStartDate"
PLANNED_END = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedEndDate"
PARTICIPANTS = ((7, "ATND", "attender"), (8, "REF", "referrer"), (9, "CON", "consultant"), (17, "ADM", "admitter"))
PV1_ELEMENTS = {3: ("location",), 7: ("participant",), 36: ("hospitalization",), 44: ("period.start",),
                45: ("period.end",)}
# a closed visit stays closed, except: a cancelled discharge reopens a finished one; a new admission or
# registration revives a cancelled one
_ADMITS = frozenset({"cancelled"})
REOPENS = {"A13": frozenset({"finished"}), "A01": _ADMITS, "A04": _ADMITS, "A05": _ADMITS, "A14": _ADMITS}
# the plan a cancelled pending event made: A25 cancels a pending discharge (A16), A26 a pending transfer (A15)
CLEARS = {"A25": frozenset({f"extension:{PLANNED_END}"})}


def _status(pv1: Segment, trigger: str) -> str:
    if trigger in STATUS_BY_TRIGGER:
        return STATUS_BY_TRIGGER[trigger]
    if pv1.get(45):
        return "finished"
    if pv1.get(44):
        return "in-progress"
    return "unknown"


def _class(ctx: Context, pv1: Segment) -> dict[str, Any]:
    code = pv1.get(2).upper()
    if code in PATIENT_CLASS:
        act, display = PATIENT_CLASS[code]
        return {"system": V3_ACT_CODE, "code": act, "display": display}
    if code and code not in ("N", "U"):
        ctx.issue(pv1, 2, TABLE_VALUE_NOT_FOUND, "PV1-2 is not an HL7 table 0004 patient class", fatal=False)
    return {"system": V3_NULL, "code": "UNK", "display": "unknown"}


def visit_key(ctx: Context, pv1: Segment) -> Key | None:
    """The Encounter key: the visit number PV1-19, else the patient and admit time, else this message."""
    visit = pv1.rep(19)
    if visit.c(1):
        return Key("Encounter", hd_system(visit.comp(4)) or ctx.sender_system, visit.c(1))
    subject = ctx.subject
    if subject is None:
        return None
    admitted = pv1.get(44)
    if admitted:
        return synthetic_key("Encounter", "encounter", subject.key.system, subject.key.value, admitted)
    ctx.issue(pv1, 19, REQUIRED_FIELD_MISSING,
              "PV1-19 (visit number) is missing; the encounter is keyed by this message only", fatal=False)
    return synthetic_key("Encounter", "encounter", subject.key.system, subject.key.value, "message",
                         ctx.sender_system, ctx.header.control_id)


def _meaningful(pv1: Segment) -> bool:
    if pv1.get(2).upper() == "N" and not pv1.has(19):
        return False
    return any(pv1.has(n) for n in (2, 3, 19, 44))


def _locations(ctx: Context, pv1: Segment, pv2: Segment | None, status: str, trigger: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    undone = UNDONE_PLACES.get(trigger, set())
    current = "completed" if status in ("finished", "cancelled", "entered-in-error") else (
        "planned" if status == "planned" or pv1.get(2).upper() == "P" else "active")
    places = [(pv1, 3, current), (pv1, 6, "completed"), (pv1, 11, "active"), (pv1, 42, "planned"),
              (pv1, 43, "completed")] + ([(pv2, 1, "planned")] if pv2 is not None else [])
    for segment, field, state in places:
        if (segment.name, field) in undone:
            continue
        ref = location(ctx, segment.rep(field))
        if ref and not any(item["location"]["reference"] == ref["reference"] for item in found):
            found.append({"location": ref, "status": state})
    return found


def _participants(ctx: Context, pv1: Segment) -> list[dict[str, Any]]:
    found = []
    for field, code, display in PARTICIPANTS:
        for rep in pv1.reps(field):
            ref = practitioner(ctx, rep)
            if ref:
                found.append({"type": [{"coding": [{"system": V3_PARTICIPATION, "code": code, "display": display}]}],
                              "individual": ref})
    return found


def _hospitalization(ctx: Context, pv1: Segment) -> dict[str, Any]:
    stay: dict[str, Any] = {}
    pre_admit = cx_identifier(pv1.rep(5))
    if pre_admit:
        stay["preAdmissionIdentifier"] = pre_admit
    for field, name, table in ((14, "admitSource", "0023"), (13, "reAdmission", "0092"),
                               (36, "dischargeDisposition", "0112")):
        concept = cwe_concept(pv1.rep(field), table)
        if concept:
            stay[name] = concept
    diet = cwe_concept(pv1.rep(38), "0114")
    if diet:
        stay["dietPreference"] = [diet]
    return stay


def map_encounter(ctx: Context, pv1: Segment, pv2: Segment | None = None, *, trigger: str = "") -> str | None:
    """Upsert the Encounter of a PV1 (+PV2) and make it current; its fullUrl (None when PV1 is empty)."""
    if ctx.subject is None or not _meaningful(pv1):
        return None
    key = visit_key(ctx, pv1)
    if key is None:
        return None
    period: dict[str, str] = {}
    for field, name in ((44, "start"), (45, "end")):
        when = ctx.datetime(pv1, field)
        if when:
            period[name] = when
    status = _status(pv1, trigger)
    encounter: dict[str, Any] = {"status": status, "class": _class(ctx, pv1), "subject": ctx.patient_ref()}
    planned = [{"url": url, "valueDateTime": when} for field, url in ((8, PLANNED_START), (9, PLANNED_END))
               if pv2 is not None and f"extension:{url}" not in CLEARS.get(trigger, ())
               and (when := ctx.datetime(pv2, field))]
    if planned:  # expected admit / discharge dates are plans, not the period (IG PV2 map)
        encounter["extension"] = planned
    visit = cx_identifier(pv1.rep(19), default_system=key.system) if pv1.has(19) else None
    if visit:
        visit.setdefault("type", {"coding": [{"system": f"{V2}0203", "code": "VN"}]})
        encounter["identifier"] = [visit]
    admission_type = table_concept(pv1.get(4), "0007")
    if admission_type:
        encounter["type"] = [admission_type]
    service = cwe_concept(pv1.rep(10), "0069")
    if service:
        encounter["serviceType"] = service
    if period:
        encounter["period"] = period
    encounter["participant"] = _participants(ctx, pv1)
    encounter["location"] = _locations(ctx, pv1, pv2, status, trigger)
    encounter["hospitalization"] = _hospitalization(ctx, pv1)
    if pv2 is not None:
        reason = cwe_concept(pv2.rep(3))
        if reason:
            encounter["reasonCode"] = [reason]
    provider = (organization(ctx, pv1.get(39)) if pv1.get(39)
                else organization_hd(ctx, ctx.message.segments[0].rep(4)))
    if provider:
        encounter["serviceProvider"] = provider
    ctx.encounter = ctx.upsert(key, encounter, create_only=not ctx.owns_patient)
    ctx.note_update(ctx.encounter, pv1, PV1_ELEMENTS, reopens=REOPENS.get(trigger, frozenset()),
                    clears=CLEARS.get(trigger, frozenset()))
    return ctx.encounter
