"""PPR PC1/PC2/PC3 (problem add, update, delete) to Condition problem-list items.

HL7 v2-to-FHIR IG: "Segment PRB to Condition Map" (http://hl7.org/fhir/uv/v2mappings/); HL7 v2 chapter 12
(patient care): each PRB with the NTE after it is one problem; the problem-list system owns the Condition (PUT),
while the Patient and Encounter are only created when missing.
"""
from __future__ import annotations

from adapters.hl7v2.context import Context
from adapters.hl7v2.messages.common import map_patient_and_visit, note_text, require_segment
from adapters.hl7v2.segments.clinical import map_problem

TRIGGERS = frozenset({"PC1", "PC2", "PC3"})


def map_problems(ctx: Context, trigger: str) -> None:
    """Translate a PPR message into the context's Bundle."""
    message = ctx.message
    if not map_patient_and_visit(ctx):
        return
    problems = message.all("PRB")
    if not require_segment(ctx, problems[0] if problems else None, "PRB"):
        return
    for prb in problems:
        notes = []
        for segment in message.segments[prb.index + 1:]:
            if segment.name != "NTE":
                break
            notes.append(note_text(segment))
        map_problem(ctx, prb, [text for text in notes if text], deleted=trigger == "PC3")
