"""SIU S12-S17 and S26 to Appointment (S12/S13/S14 booked, S15/S16 cancelled, S17 entered-in-error, S26 noshow).

HL7 v2-to-FHIR IG: "SIU_S12 to Bundle Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-message-siu-s12-to-bundle.html)
and the SCH/AIS/AIL/AIP segment maps; DG1 become Conditions referenced as the appointment's reason.
"""
from __future__ import annotations

from adapters.hl7v2.context import Context
from adapters.hl7v2.messages.common import note_text, require_segment
from adapters.hl7v2.segments.clinical import map_condition
from adapters.hl7v2.segments.pid import map_patient
from adapters.hl7v2.segments.sch import map_appointment

TRIGGERS = frozenset({"S12", "S13", "S14", "S15", "S16", "S17", "S26"})
RESOURCE_SEGMENTS = ("AIS", "AIG", "AIL", "AIP")


def map_siu(ctx: Context, trigger: str) -> None:
    """Translate an SIU message into the context's Bundle."""
    message = ctx.message
    sch, pid = message.first("SCH"), message.first("PID")
    if not require_segment(ctx, sch, "SCH") or not require_segment(ctx, pid, "PID"):
        return
    if map_patient(ctx, pid, message.first("PD1")) is None:
        return
    notes = []
    for segment in message.segments[sch.index + 1:]:
        if segment.name == "NTE":
            notes.append(note_text(segment))
        elif segment.name != "TQ1":
            break
    tq1 = message.first("TQ1")
    reasons = [{"reference": url} for url in (map_condition(ctx, dg1) for dg1 in message.all("DG1")) if url]
    resources = [segment for segment in message.segments if segment.name in RESOURCE_SEGMENTS]
    map_appointment(ctx, sch, trigger=trigger, tq1=tq1, notes=[n for n in notes if n], resources=resources,
                    reasons=reasons)
