"""Helpers shared by the message translators: segment grouping and notes."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.codes import cwe_code
from adapters.hl7v2.errors import SEGMENT_SEQUENCE_ERROR, MappingIssue
from adapters.hl7v2.segments.obx import map_observation
from adapters.hl7v2.segments.pid import map_patient
from adapters.hl7v2.segments.pv1 import map_encounter
from adapters.hl7v2.tree import Segment


def note_text(nte: Segment) -> str:
    """The comment of an NTE segment (NTE-3 repetitions joined by newlines)."""
    return "\n".join(rep.text() for rep in nte.reps(3)).strip()


@dataclass
class Result:
    """An OBX with the NTE segments that follow it."""

    obx: Segment
    notes: list[str] = field(default_factory=list)


def require_segment(ctx: Context, segment: Segment | None, name: str) -> bool:
    """True when the segment is present, else a fatal 100 issue naming it."""
    if segment is not None:
        return True
    ctx.issues.append(MappingIssue(name, 1, None, SEGMENT_SEQUENCE_ERROR,
                                   f"the required {name} segment is missing", "E"))
    return False


def map_results(ctx: Context, results: list[Result], scope: tuple[str, str], **options: object) -> list[str]:
    """Map OBX (+NTE) results to Observations; returns their fullUrls."""
    urls = []
    seen: dict[tuple[str, str], int] = {}
    for result in results:
        # OBX-1 only numbers the segments of one message: a result is the n-th of its code (and sub-id) in
        # its report, so a corrected result replaces the one it corrects whatever order the sender lists
        what = (cwe_code(result.obx.rep(3)), result.obx.text(4))
        seen[what] = occurrence = seen.get(what, 0) + 1
        url = map_observation(ctx, result.obx, scope=scope, occurrence=occurrence, notes=result.notes,
                              **options)  # type: ignore[arg-type]
        if url:
            urls.append(url)
    return urls


def map_patient_and_visit(ctx: Context) -> bool:
    """Map the PID (+PD1) and the first PV1 (+PV2); False (with a fatal issue) when there is no patient."""
    message = ctx.message
    pid = message.first("PID")
    if not require_segment(ctx, pid, "PID") or map_patient(ctx, pid, message.first("PD1")) is None:
        return False
    pv1 = message.first("PV1")
    if pv1 is not None:
        map_encounter(ctx, pv1, message.first("PV2"))
    return True


def map_patient_section(ctx: Context, order_segments: Collection[str]) -> list[Segment] | None:
    """Map the PID (+PD1) and the visit (PV1, PV2) before the first order segment; the segments before it, or
    None when the message names no patient (with a fatal issue)."""
    message = ctx.message
    pid = message.first("PID")
    if not require_segment(ctx, pid, "PID") or map_patient(ctx, pid, message.first("PD1")) is None:
        return None
    first_order = next((s.index for s in message.segments if s.name in order_segments), len(message.segments))
    before = message.segments[:first_order]
    pv1 = next((s for s in before if s.name == "PV1"), None)
    if pv1 is not None:
        map_encounter(ctx, pv1, next((s for s in before if s.name == "PV2"), None))
    return before
