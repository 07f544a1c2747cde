"""MDM T01-T11 to DocumentReference: original, status change, addendum, edit and replacement; cancel.

HL7 v2-to-FHIR IG: "MDM_T02 to Bundle Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-message-mdm-t02-to-bundle.html):
TXA to DocumentReference, the OBX text lines as its content; odd triggers notify without content, T11 cancels.
"""
from __future__ import annotations

from adapters.hl7v2.context import Context
from adapters.hl7v2.messages.common import map_patient_and_visit, require_segment
from adapters.hl7v2.segments.txa import map_document

TRIGGERS = frozenset({"T01", "T02", "T03", "T04", "T05", "T06", "T07", "T08", "T09", "T10", "T11"})


def map_mdm(ctx: Context, trigger: str) -> None:
    """Translate an MDM message into the context's Bundle."""
    message = ctx.message
    txa = message.first("TXA")
    if not require_segment(ctx, message.first("PID"), "PID") or not require_segment(ctx, txa, "TXA"):
        return
    if not map_patient_and_visit(ctx):
        return
    observations = [segment for segment in message.segments if segment.name == "OBX"
                    and segment.index > txa.index]
    map_document(ctx, txa, observations, trigger=trigger)
