"""ADT visit, tracking, leave and cancel events, A28/A31 and merges A34/A39/A40 to Patient, Encounter and more.

HL7 v2-to-FHIR IG: message maps "ADT_A01 to Bundle" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-message-adt-a01-to-bundle.html),
"ADT_A02/A03/A04/A05/A06/A07/A08/A11/A13/A28/A31 to Bundle", "ADT_A40 to Bundle" (MRG: the patient merged away).
ADT owns patient data: Patient and Encounter are conditional PUTs (other messages only create them if missing).
"""
from __future__ import annotations

from adapters.hl7v2.context import Context
from adapters.hl7v2.errors import SEGMENT_SEQUENCE_ERROR, MappingIssue
from adapters.hl7v2.messages.common import Result, map_results, note_text, require_segment
from adapters.hl7v2.model import Merge
from adapters.hl7v2.segments.clinical import map_allergy, map_condition
from adapters.hl7v2.segments.in1 import map_coverage
from adapters.hl7v2.segments.nk1 import map_related_person
from adapters.hl7v2.segments.pid import map_patient, merge_queries
from adapters.hl7v2.segments.pv1 import map_encounter
from adapters.hl7v2.tree import Segment

MERGE_TRIGGERS = frozenset({"A34", "A39", "A40"})
VISIT_TRIGGERS = frozenset({"A01", "A02", "A03", "A04", "A05", "A06", "A07", "A08", "A09", "A10", "A11", "A12",
                            "A13", "A14", "A15", "A16", "A21", "A22", "A23", "A25", "A26", "A27", "A32", "A33",
                            "A38", "A52", "A53", "A54", "A55"})
TRIGGERS = VISIT_TRIGGERS | frozenset({"A28", "A31"}) | MERGE_TRIGGERS


def map_adt(ctx: Context, trigger: str) -> None:
    """Translate one ADT message into the context's Bundle."""
    ctx.owns_patient = True
    message = ctx.message
    if trigger in MERGE_TRIGGERS:
        _merges(ctx)
        return
    pid = message.first("PID")
    if not require_segment(ctx, pid, "PID"):
        return
    if map_patient(ctx, pid, message.first("PD1")) is None:
        return
    pv1 = message.first("PV1")
    if pv1 is not None:
        map_encounter(ctx, pv1, message.first("PV2"), trigger=trigger)
    for nk1 in message.all("NK1"):
        map_related_person(ctx, nk1)
    for al1 in message.all("AL1"):
        map_allergy(ctx, al1)
    for dg1 in message.all("DG1"):
        map_condition(ctx, dg1)
    for in1 in message.all("IN1"):
        map_coverage(ctx, in1)
    map_results(ctx, _results(message.segments), (ctx.sender_system, f"message^{ctx.header.control_id}"))


def _results(segments: list[Segment]) -> list[Result]:
    results: list[Result] = []
    previous = ""
    for segment in segments:
        if segment.name == "OBX":
            results.append(Result(segment))
        elif segment.name == "NTE" and previous in ("OBX", "NTE") and results:
            results[-1].notes.append(note_text(segment))
        if segment.name != "NTE":
            previous = segment.name
    return results


def _merges(ctx: Context) -> None:
    """Each PID (survivor) with the MRG after it (merged away): upsert the survivor, record the merge."""
    segments = ctx.message.segments
    pids = [i for i, segment in enumerate(segments) if segment.name == "PID"]
    if not pids:
        require_segment(ctx, None, "PID")
        return
    for number, index in enumerate(pids):
        end = pids[number + 1] if number + 1 < len(pids) else len(segments)
        group = segments[index:end]
        mrg = next((segment for segment in group if segment.name == "MRG"), None)
        pid = segments[index]
        subject = map_patient(ctx, pid, next((s for s in group if s.name == "PD1"), None))
        if mrg is None:
            ctx.issues.append(MappingIssue("MRG", number + 1, None, SEGMENT_SEQUENCE_ERROR,
                                           "each PID of a merge message needs an MRG segment after it", "E"))
            continue
        merged = merge_queries(ctx, mrg)
        if subject is not None and merged:
            survivor = subject.key.readable_query
            if merged[0] == survivor:
                ctx.issue(mrg, 1, SEGMENT_SEQUENCE_ERROR, "MRG-1 names the surviving patient itself",
                          fatal=True)
                continue
            ctx.merges.append(Merge(survivor=survivor, merged=merged[0],
                                    alternatives=tuple(q for q in merged[1:] if q != survivor)))
