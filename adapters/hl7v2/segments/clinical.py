"""AL1 and IAM to AllergyIntolerance, DG1 and PRB to Condition, PR1 to Procedure.

HL7 v2-to-FHIR IG: "Segment AL1 to AllergyIntolerance Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-al1-to-allergyintolerance.html),
"Segment IAM to AllergyIntolerance Map" (IAM-1..5 as AL1; IAM-7 identifier, IAM-11 onset, IAM-13 recorded date,
IAM-17 clinical status, table 0438, to verification and clinical status; IAM-6 action D is a deletion,
kept as `entered-in-error`) and "Segment DG1 to Condition Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-dg1-to-condition.html).
An allergy is keyed by patient and allergen, so AL1 and IAM about one allergen update one resource.
ADT owns allergies, diagnoses and procedures, patient accounting (BAR) diagnoses and procedures too: other
messages (orders, charges, referrals) carrying the same segments only create them when missing, so they never
overwrite what their owners recorded.
"Segment PRB to Condition Map": a problem-list-item keyed by its instance id PRB-4 (else patient and PRB-3),
PRB-13 confirmation to verificationStatus, PRB-14 life cycle to clinicalStatus (codes or their names, as
senders write either), PRB-7 recorded, PRB-9 abatement (only for an inactive, resolved or remission problem,
FHIR con-4; a resolution date without a life cycle status means resolved), PRB-16/17 onset; action DE (or
a PC3) deletes it, kept as `entered-in-error`.
"Segment PR1 to Procedure Map": PR1-3 code (PR1-4 its text), PR1-5 performed, PR1-6 functional type
(table 0230) category, PR1-8 anesthesiologist / PR1-11 surgeon / PR1-12 practitioner performers, PR1-15
reason, PR1-19 identifier (the key, else patient + code + time); PR1-20 action D is a deletion, kept as
`entered-in-error`.
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.codes import cwe_code, cwe_concept, table_concept
from adapters.hl7v2.datatypes.identifiers import ei_identifier
from adapters.hl7v2.errors import REQUIRED_FIELD_MISSING, TABLE_VALUE_NOT_FOUND
from adapters.hl7v2.identity import Key, synthetic_key
from adapters.hl7v2.segments.practitioners import practitioner
from adapters.hl7v2.terminology import ALLERGY_CATEGORY, ALLERGY_CRITICALITY
from adapters.hl7v2.tree import Segment

ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
DIAGNOSIS_VERIFICATION = {"F": "confirmed", "W": "provisional", "A": "provisional"}
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
# HL7 table 0438 allergy clinical status -> (verificationStatus, clinicalStatus)
ALLERGY_STATUS = {"U": ("unconfirmed", "active"), "P": ("unconfirmed", "active"), "S": ("unconfirmed", "active"),
                  "C": ("confirmed", "active"), "I": ("confirmed", "inactive"), "E": ("entered-in-error", None),
                  "D": ("unconfirmed", "active")}


def map_allergy(ctx: Context, al1: Segment) -> str | None:
    """Upsert the AllergyIntolerance of an AL1 segment; its fullUrl (None when AL1-3 is empty)."""
    found = _allergy(ctx, al1)
    if found is None:
        return None
    key, allergy = found
    onset = ctx.datetime(al1, 6)
    if onset:
        allergy["onsetDateTime"] = onset
    return ctx.upsert(key, allergy, create_only=not ctx.owns("AllergyIntolerance"))


def map_adverse_reaction(ctx: Context, iam: Segment) -> str | None:
    """Upsert the AllergyIntolerance of an IAM segment (ADT A60); its fullUrl (None when IAM-3 is empty)."""
    found = _allergy(ctx, iam)
    if found is None:
        return None
    key, allergy = found
    identifier = ei_identifier(iam.rep(7), default_system=ctx.sender_system)
    if identifier:
        allergy["identifier"] = [identifier]
    status = iam.rep(17).c(1).upper()
    verification, clinical = ALLERGY_STATUS.get(status, (None, "active"))
    if status and status not in ALLERGY_STATUS:
        ctx.issue(iam, 17, TABLE_VALUE_NOT_FOUND, "IAM-17 is not an HL7 table 0438 clinical status", fatal=False)
    if iam.rep(6).c(1).upper() == "D":  # the sender deletes the record: kept, marked as never true
        verification, clinical = "entered-in-error", None
    if verification:
        allergy["verificationStatus"] = {"coding": [{"system": ALLERGY_VERIFICATION, "code": verification}]}
    if clinical:
        allergy["clinicalStatus"] = {"coding": [{"system": ALLERGY_CLINICAL, "code": clinical}]}
    else:
        allergy.pop("clinicalStatus", None)  # FHIR ait-2: none for an entered-in-error allergy
    onset = ctx.datetime(iam, 11)
    if onset:
        allergy["onsetDateTime"] = onset
    elif iam.get(12):
        allergy["onsetString"] = iam.get(12)
    recorded = ctx.datetime(iam, 13)
    if recorded:
        allergy["recordedDate"] = recorded
    return ctx.upsert(key, allergy, create_only=not ctx.owns("AllergyIntolerance"))


def _allergy(ctx: Context, segment: Segment) -> tuple[Key, dict[str, Any]] | None:
    """Key and common elements of an AL1 or IAM segment (fields 2-5 agree); None without an allergen."""
    if ctx.subject is None:
        return None
    code = cwe_concept(segment.rep(3))
    if code is None:
        ctx.issue(segment, 3, REQUIRED_FIELD_MISSING, f"{segment.name}-3 (allergen) is empty; the allergy was skipped",
                  fatal=False)
        return None
    allergen = cwe_code(segment.rep(3)) or code.get("text", "")
    key = synthetic_key("AllergyIntolerance", "allergy", ctx.subject.key.system, ctx.subject.key.value, allergen)
    allergy: dict[str, Any] = {
        "clinicalStatus": {"coding": [{"system": ALLERGY_CLINICAL, "code": "active"}]},
        "type": "allergy", "code": code, "patient": ctx.patient_ref()}
    category = ALLERGY_CATEGORY.get(segment.get(2).upper())
    if category:
        allergy["category"] = [category]
    criticality = ALLERGY_CRITICALITY.get(segment.get(4).upper())
    if criticality:
        allergy["criticality"] = criticality
    reactions = [{"text": rep.text()} for rep in segment.reps(5) if rep.text()]
    if reactions:
        allergy["reaction"] = [{"manifestation": reactions}]
    return key, allergy


PROBLEM_VERIFICATION = {"C": "confirmed", "CO": "confirmed", "CONFIRMED": "confirmed", "P": "provisional",
                        "PO": "provisional", "PR": "provisional", "PROVISIONAL": "provisional", "PROBABLE": "provisional",
                        "POSSIBLE": "provisional", "D": "differential", "DIFFERENTIAL": "differential",
                        "R": "refuted", "RO": "refuted", "REFUTED": "refuted", "RULED OUT": "refuted",
                        "U": "unconfirmed", "UNCONFIRMED": "unconfirmed"}
ABATED = ("inactive", "resolved", "remission")
PROBLEM_CLINICAL = {"A": "active", "ACTIVE": "active", "I": "inactive", "INACTIVE": "inactive", "R": "resolved",
                    "RESOLVED": "resolved", "REMISSION": "remission", "RECURRENCE": "recurrence",
                    "RELAPSE": "relapse"}


def map_problem(ctx: Context, prb: Segment, notes: list[str], *, deleted: bool = False) -> str | None:
    """Upsert the Condition (problem-list item) of a PRB segment; its fullUrl (None without PRB-3)."""
    if ctx.subject is None:
        return None
    code = cwe_concept(prb.rep(3))
    if code is None:
        ctx.issue(prb, 3, REQUIRED_FIELD_MISSING, "PRB-3 (the problem) is required", fatal=True)
        return None
    identifier = ei_identifier(prb.rep(4), default_system=ctx.sender_system)
    key = (Key("Condition", identifier["system"], identifier["value"]) if identifier
           else synthetic_key("Condition", "problem", ctx.subject.key.system, ctx.subject.key.value,
                              cwe_code(prb.rep(3)) or code.get("text")))
    categories = [{"coding": [{"system": CONDITION_CATEGORY, "code": "problem-list-item"}]}]
    classification = cwe_concept(prb.rep(10))
    if classification:
        categories.append(classification)
    condition: dict[str, Any] = {"category": categories, "code": code, "subject": ctx.patient_ref(),
                                 "encounter": ctx.encounter_ref(), "identifier": [identifier] if identifier else []}
    clinical = _table_value(ctx, prb, 14, PROBLEM_CLINICAL, "problem life cycle status")
    verification = _table_value(ctx, prb, 13, PROBLEM_VERIFICATION, "", warn=False)
    misplaced = (None if verification or clinical or prb.get(14)
                 else _table_value(ctx, prb, 13, PROBLEM_CLINICAL, "", warn=False))
    if misplaced:  # a life cycle status sent one field early (seen from several senders): read, and said so
        clinical = misplaced
        ctx.issue(prb, 13, TABLE_VALUE_NOT_FOUND, "PRB-13 holds a problem life cycle status; it was read as PRB-14",
                  fatal=False)
    elif verification is None:
        _table_value(ctx, prb, 13, PROBLEM_VERIFICATION, "problem confirmation status")  # warns when unknown
    deleted = deleted or prb.get(1).upper() == "DE"
    if deleted:
        verification, clinical = "entered-in-error", None  # FHIR con-5: no clinical status then
    for field, name in ((7, "recordedDate"), (9, "abatementDateTime"), (16, "onsetDateTime")):
        when = ctx.datetime(prb, field) if prb.get(field) else None
        if when:
            condition[name] = when
    if "abatementDateTime" in condition and clinical not in ABATED:  # FHIR con-4: only an abated problem ends
        if deleted or clinical is not None or prb.get(14):
            del condition["abatementDateTime"]
            if not deleted:
                ctx.issue(prb, 9, TABLE_VALUE_NOT_FOUND, "PRB-9 (resolution date) was left out: PRB-14 does not "
                          "say the problem is over", fatal=False)
        else:
            clinical = "resolved"  # a resolution date and no life cycle status: the problem was resolved
    if verification:
        condition["verificationStatus"] = {"coding": [{"system": CONDITION_VERIFICATION, "code": verification}]}
    if clinical:
        condition["clinicalStatus"] = {"coding": [{"system": CONDITION_CLINICAL, "code": clinical}]}
    if "onsetDateTime" not in condition and prb.get(17):
        condition["onsetString"] = prb.get(17)
    if notes:
        condition["note"] = [{"text": text} for text in notes]
    return ctx.upsert(key, condition)


def _table_value(ctx: Context, segment: Segment, field: int, table: dict[str, str], name: str, *,
                 warn: bool = True) -> str | None:
    """A FHIR code for a CWE field sent as a code or its name (a warning when it is neither)."""
    rep = segment.rep(field)
    for text in (rep.c(1), rep.c(2)):
        if text.strip().upper() in table:
            return table[text.strip().upper()]
    if warn and (rep.c(1) or rep.c(2)):
        ctx.issue(segment, field, TABLE_VALUE_NOT_FOUND, f"{segment.name}-{field} is not a known {name}",
                  fatal=False)
    return None


PERFORMER_FUNCTIONS = ((8, "88189002", "Anesthesiologist"), (11, "304292004", "Surgeon"),
                       (12, "223366009", "Healthcare professional"))


def map_procedure(ctx: Context, pr1: Segment) -> str | None:
    """Upsert the Procedure of a PR1 segment; its fullUrl (None without a procedure code)."""
    if ctx.subject is None:
        return None
    code = cwe_concept(pr1.rep(3))
    if code is not None and pr1.get(4) and "text" not in code:
        code["text"] = pr1.get(4)
    elif code is None and pr1.get(4):
        code = {"text": pr1.get(4)}
    if code is None:
        ctx.issue(pr1, 3, REQUIRED_FIELD_MISSING, "PR1-3 (procedure code) is empty; the procedure was skipped",
                  fatal=False)
        return None
    performed = ctx.datetime(pr1, 5) if pr1.get(5) else None
    identifier = ei_identifier(pr1.rep(19), default_system=ctx.sender_system)
    key = (Key("Procedure", identifier["system"], identifier["value"]) if identifier
           else synthetic_key("Procedure", "procedure", ctx.subject.key.system, ctx.subject.key.value,
                              cwe_code(pr1.rep(3)) or code.get("text"), pr1.get(5)))
    deleted = pr1.get(20).upper() == "D"
    procedure: dict[str, Any] = {"status": "entered-in-error" if deleted else "completed", "code": code,
                                 "subject": ctx.patient_ref(), "encounter": ctx.encounter_ref(),
                                 "identifier": [identifier] if identifier else []}
    if performed:
        procedure["performedDateTime"] = performed
    category = table_concept(pr1.get(6), "0230", pr1.rep(6).c(2))
    if category:
        procedure["category"] = category
    performers = []
    for field, function, display in PERFORMER_FUNCTIONS:
        for rep in pr1.reps(field):
            actor = practitioner(ctx, rep)
            if actor:
                performers.append({"function": {"coding": [{"system": "http://snomed.info/sct", "code": function,
                                                            "display": display}]}, "actor": actor})
    if performers:
        procedure["performer"] = performers
    reason = cwe_concept(pr1.rep(15))
    if reason:
        procedure["reasonCode"] = [reason]
    return ctx.upsert(key, procedure, create_only=not ctx.owns("Procedure"))


def map_condition(ctx: Context, dg1: Segment) -> str | None:
    """Upsert the Condition (encounter diagnosis) of a DG1 segment; its fullUrl (None without a code)."""
    if ctx.subject is None:
        return None
    code = cwe_concept(dg1.rep(3))
    description = dg1.get(4)
    if code is None and description:
        code = {"text": description}
    elif code is not None and description and "text" not in code:
        code["text"] = description
    if code is None:
        ctx.issue(dg1, 3, REQUIRED_FIELD_MISSING, "DG1-3 (diagnosis code) is empty; the diagnosis was skipped",
                  fatal=False)
        return None
    identifier = ei_identifier(dg1.rep(20))
    if identifier and identifier.get("system"):
        key = Key("Condition", identifier["system"], identifier["value"])
    else:
        key = synthetic_key("Condition", "condition", ctx.subject.key.system, ctx.subject.key.value,
                            cwe_code(dg1.rep(3)) or code.get("text"))
    condition: dict[str, Any] = {
        "category": [{"coding": [{"system": CONDITION_CATEGORY, "code": "encounter-diagnosis"}]}],
        "code": code, "subject": ctx.patient_ref(), "encounter": ctx.encounter_ref()}
    verification = DIAGNOSIS_VERIFICATION.get(dg1.get(6).upper())
    if verification:
        condition["verificationStatus"] = {"coding": [{"system": CONDITION_VERIFICATION, "code": verification}]}
    onset = ctx.datetime(dg1, 5)
    if onset:
        condition["onsetDateTime"] = onset
    recorded = ctx.datetime(dg1, 19)
    if recorded:
        condition["recordedDate"] = recorded
    clinician = practitioner(ctx, dg1.rep(16))
    if clinician:
        condition["asserter"] = clinician
    if identifier:
        condition["identifier"] = [identifier]
    return ctx.upsert(key, condition, create_only=not ctx.owns("Condition"))
