"""RDE O11/O25 to MedicationRequest, RDS O13 to MedicationDispense (with the MedicationRequest it fills).

HL7 v2-to-FHIR IG: "RDE_O11 to Bundle Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-message-rde-o11-to-bundle.html)
and "RDS_O13 to Bundle Map": each ORC starts an order; its RXE (else RXO) with the TQ1 and RXR after it is the
MedicationRequest, keyed by the placer order number, its OBX Observations the supporting information; each RXD
with the RXR after it a MedicationDispense.
The prescriber's system sends RDE O11 and owns the order (PUT); the pharmacy sends RDS O13 and the refill
authorization request RDE O25, which only create the order when missing. A dispense whose order group has
no RXE or RXO still names the order by its ORC numbers (created when missing from the dispensed medication).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from adapters.hl7v2.context import Context
from adapters.hl7v2.messages.common import Result, map_patient_section, map_results, note_text, require_segment
from adapters.hl7v2.segments.clinical import map_allergy
from adapters.hl7v2.segments.medication import map_dispensed_order, map_medication_dispense, map_medication_request
from adapters.hl7v2.segments.orders import order_ids, request_key
from adapters.hl7v2.tree import Segment

RDE_TRIGGERS = frozenset({"O11", "O25"})
RDS_TRIGGERS = frozenset({"O13"})
DETAILS = ("RXO", "RXE", "RXD")


@dataclass
class PharmacyOrder:
    """One ORC with its order details, each with the TQ1, RXR and NTE segments that follow it."""

    orc: Segment | None = None
    details: dict[str, Segment] = field(default_factory=dict)
    timing: dict[str, Segment] = field(default_factory=dict)
    routes: dict[str, list[Segment]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)  # OBX: supporting information of the order


def _orders(segments: list[Segment]) -> list[PharmacyOrder]:
    orders: list[PharmacyOrder] = []
    current = "ORC"
    for segment in segments:
        name = segment.name
        if name == "ORC" or (name in DETAILS and (not orders or name in orders[-1].details)):
            orders.append(PharmacyOrder(orc=segment if name == "ORC" else None))
        if not orders:
            continue
        order = orders[-1]
        if name in DETAILS:
            order.details[name] = segment
            current = name
        elif name == "TQ1":
            order.timing.setdefault(current, segment)
        elif name == "RXR":
            order.routes.setdefault(current, []).append(segment)
        elif name == "NTE" and current == "OBX" and order.results:
            order.results[-1].notes.append(note_text(segment))
        elif name == "NTE":
            order.notes.setdefault(current, []).append(note_text(segment))
        elif name == "OBX":
            order.results.append(Result(segment))
            current = "OBX"
        elif name == "ORC":
            current = "ORC"
    return orders


def map_pharmacy(ctx: Context, trigger: str) -> None:
    """Translate an RDE or RDS message into the context's Bundle."""
    message = ctx.message
    dispensing = message.header.message_type.upper() == "RDS"
    prescribing = not dispensing and trigger.upper() == "O11"  # O25 comes from the pharmacy too
    ctx.sender_places_orders = prescribing
    before = map_patient_section(ctx, {"ORC", *DETAILS})
    if before is None:
        return
    for segment in before:
        if segment.name == "AL1":
            map_allergy(ctx, segment)
    orders = _orders(message.segments[len(before):])
    if not orders:
        require_segment(ctx, None, "ORC")
    for position, order in enumerate(orders, start=1):
        _map_order(ctx, order, position, dispensing, prescribing)


def _map_order(ctx: Context, order: PharmacyOrder, position: int, dispensing: bool, prescribing: bool) -> None:
    ids = order_ids(ctx, order.orc, None)
    key = request_key(ctx, ids, position, "MedicationRequest")
    kind = "RXE" if "RXE" in order.details else "RXO"
    request = None
    supporting = map_results(ctx, order.results, (key.system, key.value))
    rxd = order.details.get("RXD")
    if kind in order.details:
        request = map_medication_request(
            ctx, order.orc, order.details[kind], key=key, ids=ids, rxrs=order.routes.get(kind, []),
            tq1=order.timing.get(kind), notes=order.notes.get("ORC", []) + order.notes.get(kind, []),
            supporting=supporting, create_only=not prescribing)
    elif not dispensing:
        require_segment(ctx, None, "RXE")
        return
    elif rxd is not None:  # the order is known by its numbers only
        request = map_dispensed_order(ctx, order.orc, rxd, key=key, ids=ids)
    if dispensing:
        if rxd is None:
            require_segment(ctx, None, "RXD")
            return
        map_medication_dispense(ctx, rxd, scope=(key.system, key.value), request=request,
                                rxrs=order.routes.get("RXD", []), notes=order.notes.get("RXD", []))
