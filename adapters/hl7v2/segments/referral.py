"""RF1 (+ PRD) to a referral ServiceRequest.

HL7 v2-to-FHIR IG: "Segment RF1 to ServiceRequest Map" and "Segment PRD to Practitioner Map"
(http://hl7.org/fhir/uv/v2mappings/), with HL7 v2 chapter 11 (patient referral): the originating
referral identifier RF1-6 keys the ServiceRequest (category: patient referral); RF1-1 status (table 0283:
pending/accepted active, rejected/expired revoked; a cancelled referral, I14, revoked), RF1-2 priority
(table 0280), RF1-3 type (table 0281) as a further category, RF1-7 effective date authoredOn, RF1-8
expiration date occurrence end, RF1-10 reason, RF1-11 external identifier; the referring provider
(PRD-1 `RP`) is the requester and the referred-to provider (`RT`) the performer.
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.codes import cwe_concept
from adapters.hl7v2.datatypes.identifiers import ei_identifier
from adapters.hl7v2.identity import Key, synthetic_key
from adapters.hl7v2.segments.practitioners import practitioner_prd
from adapters.hl7v2.tree import Segment

SNOMED = "http://snomed.info/sct"
REFERRAL_CODE = ("3457005", "Patient referral")
REFERRAL_STATUS = {"P": "active", "A": "active", "R": "revoked", "E": "revoked"}
REFERRAL_PRIORITY = {"S": "stat", "A": "asap", "R": "routine"}


def _referral() -> dict[str, Any]:
    """A fresh CodeableConcept for "patient referral" (each resource gets its own, never a shared one)."""
    code, display = REFERRAL_CODE
    return {"coding": [{"system": SNOMED, "code": code, "display": display}]}


def map_referral(ctx: Context, rf1: Segment, providers: list[Segment], *, cancelled: bool,
                 reasons: list[str], supporting: list[str]) -> str | None:
    """Upsert the referral ServiceRequest of an RF1 segment; its fullUrl."""
    if ctx.subject is None:
        return None
    identifier = ei_identifier(rf1.rep(6), type_code="PLAC", default_system=ctx.sender_system)
    external = ei_identifier(rf1.rep(11), default_system=ctx.receiver_system)
    key = (Key("ServiceRequest", identifier["system"], identifier["value"]) if identifier
           else synthetic_key("ServiceRequest", "referral", ctx.sender_system, ctx.header.control_id))
    status = "revoked" if cancelled else REFERRAL_STATUS.get(rf1.get(1).upper(), "active")
    categories = [_referral()] + [concept for concept in (cwe_concept(rf1.rep(3), "0281"),) if concept]
    referral: dict[str, Any] = {"status": status, "intent": "order", "category": categories,
                                "code": _referral(), "subject": ctx.patient_ref(), "encounter": ctx.encounter_ref(),
                                "identifier": [item for item in (identifier, external) if item]}
    priority = REFERRAL_PRIORITY.get(rf1.get(2).upper())
    if priority:
        referral["priority"] = priority
    authored = ctx.datetime(rf1, 7) if rf1.get(7) else None
    if authored:
        referral["authoredOn"] = authored
    expires = ctx.datetime(rf1, 8) if rf1.get(8) else None
    if expires:
        referral["occurrencePeriod"] = {"end": expires}
    reason = cwe_concept(rf1.rep(10))
    if reason:
        referral["reasonCode"] = [reason]
    if reasons:
        referral["reasonReference"] = [{"reference": url} for url in reasons]
    if supporting:
        referral["supportingInfo"] = [{"reference": url} for url in supporting]
    for prd in providers:
        role = prd.get(1).upper()
        ref = practitioner_prd(ctx, prd) if role in ("RP", "RT") else None
        if ref and role == "RP" and "requester" not in referral:
            referral["requester"] = ref
        elif ref and role == "RT":
            referral.setdefault("performer", []).append(ref)
    return ctx.upsert(key, referral)
