"""AL1 and IAM to AllergyIntolerance, DG1 to Condition.

HL7 v2-to-FHIR IG: "Segment AL1 to AllergyIntolerance Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-al1-to-allergyintolerance.html),
"Segment IAM to AllergyIntolerance Map" (IAM-1..5 as AL1; IAM-7 identifier, IAM-11 onset, IAM-13 recorded date,
IAM-17 clinical status, table 0438, to verification and clinical status; IAM-6 action D is a deletion,
kept as `entered-in-error`) and "Segment DG1 to Condition Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-dg1-to-condition.html).
An allergy is keyed by patient and allergen, so AL1 and IAM about one allergen update one resource.
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.codes import cwe_code, cwe_concept
from adapters.hl7v2.datatypes.identifiers import ei_identifier
from adapters.hl7v2.errors import REQUIRED_FIELD_MISSING, TABLE_VALUE_NOT_FOUND
from adapters.hl7v2.identity import Key, synthetic_key
from adapters.hl7v2.segments.practitioners import practitioner
from adapters.hl7v2.terminology import ALLERGY_CATEGORY, ALLERGY_CRITICALITY
from adapters.hl7v2.tree import Segment

ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
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
    return ctx.upsert(key, allergy)


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
    return ctx.upsert(key, allergy)


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
    return ctx.upsert(key, condition)
