"""ORU R01 and OUL R22-R24 to DiagnosticReport, Observation, Specimen (and the ServiceRequest they fulfil).

HL7 v2-to-FHIR IG: "ORU_R01 to Bundle Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-message-oru-r01-to-bundle.html):
one DiagnosticReport per OBR (results = its OBX), Specimen from SPM (or OBR-15), OBX-14 else OBR-7 as
effective time. The Patient/Encounter/ServiceRequest are only created when missing (ADT/ORM own them).
OUL (unsolicited laboratory observations, HL7 v2 chapter 7) carries the same groups ordered around the
specimen: R22 and R23 name the SPM (and its containers) before the OBRs it was used for, each OBR followed by
its ORC; the OBX right after an SPM observe the specimen. R24 is ordered by OBR, its SPMs inside the order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.encapsulated import ed_attachment
from adapters.hl7v2.messages.common import Result, map_results, note_text, require_segment
from adapters.hl7v2.segments.orders import map_service_request, order_ids, request_key
from adapters.hl7v2.segments.pid import map_patient
from adapters.hl7v2.segments.pv1 import map_encounter
from adapters.hl7v2.segments.report import map_report, report_code, report_key
from adapters.hl7v2.segments.specimen import map_obr_specimen, map_specimen
from adapters.hl7v2.tree import Segment

TRIGGERS = frozenset({"R01"})
OUL_TRIGGERS = frozenset({"R22", "R23", "R24"})


@dataclass
class OrderGroup:
    """ORC/OBR with its timing, notes, results and specimens."""

    orc: Segment | None = None
    obr: Segment | None = None
    tq1: Segment | None = None
    notes: list[str] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    specimens: list[Segment] = field(default_factory=list)
    subject: Any = None
    encounter: str | None = None


def map_oru(ctx: Context, trigger: str) -> None:
    """Translate an ORU^R01 message into the context's Bundle."""
    if not require_segment(ctx, ctx.message.first("PID"), "PID"):
        return
    groups: list[OrderGroup] = []
    pending_orc: Segment | None = None
    previous = ""
    for segment in ctx.message.segments:
        name = segment.name
        if name == "PID":
            map_patient(ctx, segment, None)
            ctx.encounter = None
        elif name == "PV1" and ctx.subject is not None:
            map_encounter(ctx, segment, None)
        elif name == "ORC":
            pending_orc = segment
        elif name == "OBR":
            groups.append(OrderGroup(orc=pending_orc, obr=segment, subject=ctx.subject, encounter=ctx.encounter))
            pending_orc = None
        elif name == "OBX":
            _add_result(ctx, groups, segment)
        elif name in ("NTE", "TQ1"):
            _annotate(groups, segment, previous)
        elif name == "SPM" and groups:
            groups[-1].specimens.append(segment)
        if name != "NTE":
            previous = name
    for position, group in enumerate(groups, start=1):
        ctx.subject, ctx.encounter = group.subject, group.encounter
        if ctx.subject is not None:
            _map_group(ctx, group, position)


def map_oul(ctx: Context, trigger: str) -> None:
    """Translate an OUL^R22/R23/R24 message into the context's Bundle."""
    if not require_segment(ctx, ctx.message.first("PID"), "PID"):
        return
    groups: list[OrderGroup] = []
    specimen: Segment | None = None  # R22/R23: the SPM the following orders were performed on
    previous = ""
    for segment in ctx.message.segments:
        name = segment.name
        if name == "PID":
            map_patient(ctx, segment, None)
            ctx.encounter, specimen = None, None
        elif name == "PV1" and ctx.subject is not None:
            map_encounter(ctx, segment, None)
        elif name == "SPM":
            if trigger == "R24" and groups and groups[-1].obr is not None:
                groups[-1].specimens.append(segment)
            else:  # observations of the specimen itself follow until its first order
                specimen = segment
                groups.append(OrderGroup(specimens=[segment], subject=ctx.subject, encounter=ctx.encounter))
        elif name == "OBR":
            groups.append(OrderGroup(obr=segment, specimens=[specimen] if specimen is not None else [],
                                     subject=ctx.subject, encounter=ctx.encounter))
        elif name == "ORC" and groups and groups[-1].obr is not None and groups[-1].orc is None:
            groups[-1].orc = segment
        elif name == "OBX":
            _add_result(ctx, groups, segment)
        elif name in ("NTE", "TQ1"):
            _annotate(groups, segment, previous)
        if name != "NTE":
            previous = name
    for position, group in enumerate(groups, start=1):
        ctx.subject, ctx.encounter = group.subject, group.encounter
        if ctx.subject is not None and (group.obr is not None or group.results):
            _map_group(ctx, group, position)


def _add_result(ctx: Context, groups: list[OrderGroup], obx: Segment) -> None:
    """An OBX belongs to the last group (a group without an order when none was opened)."""
    if not groups:
        groups.append(OrderGroup(subject=ctx.subject, encounter=ctx.encounter))
    groups[-1].results.append(Result(obx))


def _annotate(groups: list[OrderGroup], segment: Segment, previous: str) -> None:
    """Attach an NTE to the result or order it follows, a TQ1 to the last order."""
    if not groups:
        return
    if segment.name == "TQ1":
        groups[-1].tq1 = segment
    elif previous == "OBX" and groups[-1].results:
        groups[-1].results[-1].notes.append(note_text(segment))
    elif previous in ("OBR", "ORC", "TQ1"):
        groups[-1].notes.append(note_text(segment))


def _map_group(ctx: Context, group: OrderGroup, position: int) -> None:
    obr = group.obr
    ids = order_ids(ctx, group.orc, obr)
    key = report_key(ctx, obr, ids, position)
    scope = (key.system, key.value)
    based_on = None
    if obr is not None and (ids.placer or ids.filler):
        based_on = map_service_request(ctx, group.orc, obr, key=request_key(ctx, ids, position), ids=ids,
                                       tq1=group.tq1, notes=group.notes, create_only=True)
    specimens = [url for url in (map_specimen(ctx, spm, scope) for spm in group.specimens) if url]
    if not specimens and obr is not None:
        specimens = [url for url in (map_obr_specimen(ctx, obr, scope),) if url]
    effective = ctx.datetime(obr, 7) if obr is not None else None
    links: dict[str, Any] = {}
    if based_on:
        links["basedOn"] = [{"reference": based_on}]
    if specimens:
        links["specimen"] = {"reference": specimens[0]}
    default_code = report_code(ctx, obr) if obr is not None and obr.has(4) else None
    forms = []  # encapsulated documents (e.g. the PDF of a pathology report) are the report as issued
    for result in group.results if obr is not None else []:
        if result.obx.get(2).upper() == "ED" and (attachment := ed_attachment(ctx, result.obx)) is not None:
            forms.append(attachment)
            ctx.attached.add(id(result.obx))
    results = map_results(ctx, group.results, scope, default_code=default_code, effective=effective, links=links)
    if obr is not None:
        map_report(ctx, obr, key, ids, results=results, specimens=specimens, based_on=based_on,
                   presented_form=forms)
