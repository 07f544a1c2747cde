"""VXU V04 to Immunization (RXA/RXR/ORC), with other OBX as Observations that are part of it.

HL7 v2-to-FHIR IG: "VXU_V04 to Bundle Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-message-vxu-v04-to-bundle.html)
and the segment maps "RXA to Immunization", "RXR to Immunization", "ORC to Immunization".
"""
from __future__ import annotations

from dataclasses import dataclass, field

from adapters.hl7v2.context import Context
from adapters.hl7v2.identity import key_system
from adapters.hl7v2.messages.common import Result, map_patient_and_visit, map_results, note_text
from adapters.hl7v2.segments.in1 import map_coverage
from adapters.hl7v2.segments.nk1 import map_related_person
from adapters.hl7v2.segments.rxa import map_immunization
from adapters.hl7v2.tree import Segment

TRIGGERS = frozenset({"V04"})


@dataclass
class Administration:
    """ORC + RXA + RXR + OBX of one vaccine administration (or refusal)."""

    orc: Segment | None = None
    rxa: Segment | None = None
    rxr: Segment | None = None
    observations: list[Segment] = field(default_factory=list)
    notes: dict[int, list[str]] = field(default_factory=dict)


def map_vxu(ctx: Context, trigger: str) -> None:
    """Translate a VXU^V04 message into the context's Bundle."""
    message = ctx.message
    if not map_patient_and_visit(ctx):
        return
    for nk1 in message.all("NK1"):
        map_related_person(ctx, nk1)
    for in1 in message.all("IN1"):
        map_coverage(ctx, in1)
    patient_results: list[Result] = []
    groups: list[Administration] = []
    for segment in message.segments:
        name = segment.name
        if name == "ORC":
            groups.append(Administration(orc=segment))
        elif name == "RXA":
            if not groups or groups[-1].rxa is not None:
                groups.append(Administration())
            groups[-1].rxa = segment
        elif name == "RXR" and groups:
            groups[-1].rxr = segment
        elif name == "OBX":
            if groups and groups[-1].rxa is not None:
                groups[-1].observations.append(segment)
            else:
                patient_results.append(Result(segment))
        elif name == "NTE" and groups and groups[-1].observations:
            groups[-1].notes.setdefault(id(groups[-1].observations[-1]), []).append(note_text(segment))
    map_results(ctx, patient_results, (ctx.sender_system, f"message^{ctx.header.control_id}"))
    for group in groups:
        if group.rxa is None:
            continue
        url, remaining = map_immunization(ctx, group.orc, group.rxa, group.rxr, group.observations)
        if url:
            results = [Result(obx, group.notes.get(id(obx), [])) for obx in remaining]
            map_results(ctx, results, (key_system("immunization-observation"), url),
                        links={"partOf": [{"reference": url}]})
