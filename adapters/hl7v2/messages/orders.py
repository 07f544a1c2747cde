"""ORM O01, OML O21 and OMG O19 to ServiceRequest (with Specimen, Condition and supporting Observations);
a pharmacy order (RXO/RXE) to MedicationRequest.

HL7 v2-to-FHIR IG: "OML_O21 to Bundle Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-message-oml-o21-to-bundle.html)
and "ORM_O01 to Bundle Map" (OMG_O19, the general clinical order, has OML_O21's groups): each ORC (with its OBR / RXO / ODS) is one ServiceRequest, intent order, keyed
by the placer order number; DG1 in the order become reasonReference, OBX supportingInfo, SPM specimen.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.codes import cwe_concept
from adapters.hl7v2.messages.common import Result, map_patient_section, map_results, note_text, require_segment
from adapters.hl7v2.segments.clinical import map_allergy, map_condition
from adapters.hl7v2.segments.in1 import map_coverage
from adapters.hl7v2.segments.medication import map_medication_request
from adapters.hl7v2.segments.orders import map_service_request, order_ids, request_key
from adapters.hl7v2.segments.pv1 import map_encounter
from adapters.hl7v2.segments.specimen import map_specimen
from adapters.hl7v2.tree import Segment

ORM_TRIGGERS = frozenset({"O01"})
OML_TRIGGERS = frozenset({"O21"})
OMG_TRIGGERS = frozenset({"O19"})
DETAIL_SEGMENTS = {"OBR": 4, "RXO": 1, "ODS": 3, "RXE": 2}
MEDICATION_DETAILS = ("RXO", "RXE")


@dataclass
class Order:
    """One order group of an ORM/OML message."""

    orc: Segment | None = None
    detail: Segment | None = None
    tq1: Segment | None = None
    notes: list[str] = field(default_factory=list)
    diagnoses: list[Segment] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    specimens: list[Segment] = field(default_factory=list)
    visit: Segment | None = None  # a PV1 met between orders (OML prior-result groups)
    routes: list[Segment] = field(default_factory=list)  # RXR of a pharmacy order


def _groups(ctx: Context) -> list[Order]:
    orders: list[Order] = []
    previous = ""
    visit: Segment | None = None
    for segment in ctx.message.segments:
        name = segment.name
        if name == "ORC":
            orders.append(Order(orc=segment, visit=visit))
        elif name in DETAIL_SEGMENTS:
            if not orders or orders[-1].detail is not None:
                orders.append(Order(visit=visit))
            orders[-1].detail = segment
        elif not orders:
            pass
        elif name == "PV1":
            visit = segment
        elif name == "TQ1":
            orders[-1].tq1 = orders[-1].tq1 or segment
        elif name == "DG1":
            orders[-1].diagnoses.append(segment)
        elif name == "RXR":
            orders[-1].routes.append(segment)
        elif name == "OBX":
            orders[-1].results.append(Result(segment))
        elif name == "SPM":
            orders[-1].specimens.append(segment)
        elif name == "NTE":
            text = note_text(segment)
            if previous == "OBX" and orders[-1].results:
                orders[-1].results[-1].notes.append(text)
            elif previous in DETAIL_SEGMENTS or previous in ("ORC", "TQ1"):
                orders[-1].notes.append(text)
        if name != "NTE":
            previous = name
    return orders


def map_order(ctx: Context, trigger: str) -> None:
    """Translate an ORM^O01 or OML^O21 message into the context's Bundle."""
    ctx.sender_places_orders = True
    before = map_patient_section(ctx, {"ORC", *DETAIL_SEGMENTS})
    if before is None:
        return
    for segment in before:
        if segment.name == "AL1":
            map_allergy(ctx, segment)
        elif segment.name == "IN1":
            map_coverage(ctx, segment)
    orders = _groups(ctx)
    if not orders:
        require_segment(ctx, None, "ORC")
    patient_encounter = ctx.encounter
    for position, order in enumerate(orders, start=1):
        ctx.encounter = map_encounter(ctx, order.visit, None) if order.visit is not None else patient_encounter
        _map_order(ctx, order, position)


def _map_order(ctx: Context, order: Order, position: int) -> None:
    obr = order.detail if order.detail is not None and order.detail.name == "OBR" else None
    ids = order_ids(ctx, order.orc, obr)
    reasons = [url for url in (map_condition(ctx, dg1) for dg1 in order.diagnoses) if url]
    if order.detail is not None and order.detail.name in MEDICATION_DETAILS:  # IG: RXO/RXE to MedicationRequest
        key = request_key(ctx, ids, position, "MedicationRequest")
        results = map_results(ctx, order.results, (key.system, key.value))
        map_medication_request(ctx, order.orc, order.detail, key=key, ids=ids, rxrs=order.routes, tq1=order.tq1,
                               notes=order.notes, supporting=results, reasons=reasons)
        return
    key = request_key(ctx, ids, position)
    scope = (key.system, key.value)
    code = None
    if order.detail is not None:
        code = cwe_concept(order.detail.rep(DETAIL_SEGMENTS[order.detail.name]))
    specimens = [url for url in (map_specimen(ctx, spm, scope) for spm in order.specimens) if url]
    results = map_results(ctx, order.results, scope)
    links: dict[str, Any] = {"reasonReference": [{"reference": url} for url in reasons],
                             "specimen": [{"reference": url} for url in specimens],
                             "supportingInfo": [{"reference": url} for url in results]}
    map_service_request(ctx, order.orc, obr, key=key, ids=ids, code=code, tq1=order.tq1, notes=order.notes,
                        links=links)
