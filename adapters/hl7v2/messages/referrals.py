"""REF I12-I14 (patient referral, its modification and cancellation) to a referral ServiceRequest.

HL7 v2-to-FHIR IG: "REF_I12 to Bundle Map" (http://hl7.org/fhir/uv/v2mappings/), with HL7 v2 chapter 11:
RF1 with its providers (PRD) is the referral; the patient's diagnoses (DG1), allergies
(AL1), procedures (PR1), coverages (IN1) and results (OBR/OBX) travel with it as its reasons and supporting
information. The referral system owns the referral; patient and visit are only created when missing.
"""
from __future__ import annotations

from adapters.hl7v2.context import Context
from adapters.hl7v2.messages.common import Result, map_patient_and_visit, map_results, note_text, require_segment
from adapters.hl7v2.segments.clinical import map_allergy, map_condition, map_procedure
from adapters.hl7v2.segments.in1 import map_coverage
from adapters.hl7v2.segments.referral import map_referral

TRIGGERS = frozenset({"I12", "I13", "I14"})


def map_ref(ctx: Context, trigger: str) -> None:
    """Translate a REF message into the context's Bundle."""
    message = ctx.message
    rf1 = message.first("RF1")
    if not require_segment(ctx, rf1, "RF1") or not map_patient_and_visit(ctx):
        return
    reasons = [url for url in (map_condition(ctx, dg1) for dg1 in message.all("DG1")) if url]
    for al1 in message.all("AL1"):
        map_allergy(ctx, al1)
    for in1 in message.all("IN1"):
        map_coverage(ctx, in1)
    procedures = [url for url in (map_procedure(ctx, pr1) for pr1 in message.all("PR1")) if url]
    results: list[Result] = []
    previous = ""
    for segment in message.segments:
        if segment.name == "OBX":
            results.append(Result(segment))
        elif segment.name == "NTE" and previous == "OBX" and results:
            results[-1].notes.append(note_text(segment))
        if segment.name != "NTE":
            previous = segment.name
    observations = map_results(ctx, results, (ctx.sender_system, f"referral^{ctx.header.control_id}"))
    map_referral(ctx, rf1, message.all("PRD"), cancelled=trigger == "I14", reasons=reasons,
                 supporting=procedures + observations)
