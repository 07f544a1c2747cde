"""ORC/OBR to ServiceRequest: placer/filler/group numbers, status, code, requester.

HL7 v2-to-FHIR IG: "Segment ORC to ServiceRequest Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-orc-to-servicerequest.html),
"Segment OBR to ServiceRequest Map" (ConceptMap-segment-obr-to-servicerequest), "Table HL70038 to Request Status"
and "EI to Identifier" (PLAC / FILL / PGN identifier types).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.codes import cwe_concept
from adapters.hl7v2.datatypes.identifiers import ei_identifier
from adapters.hl7v2.identity import Key, synthetic_key
from adapters.hl7v2.segments.practitioners import practitioner
from adapters.hl7v2.terminology import ORDER_CONTROL, ORDER_STATUS
from adapters.hl7v2.tree import Segment, Value

PRIORITY = {"S": "stat", "A": "asap", "R": "routine", "T": "urgent"}


@dataclass
class OrderIds:
    """The identifiers of one order (ORC/OBR), each an Identifier dict or None."""

    placer: dict[str, Any] | None
    filler: dict[str, Any] | None
    group: dict[str, Any] | None

    def listed(self) -> list[dict[str, Any]]:
        """Placer and filler identifiers present."""
        return [item for item in (self.placer, self.filler) if item]


def _first(segments: tuple[Segment | None, ...], field: int) -> Value | None:
    for segment in segments:
        if segment is not None and segment.rep(field).c(1):
            return segment.rep(field)
    return None


def order_ids(ctx: Context, orc: Segment | None, obr: Segment | None) -> OrderIds:
    """Placer (ORC-2/OBR-2), filler (ORC-3/OBR-3) and placer group (ORC-4) numbers as Identifiers."""
    found = []
    for field, role, code in ((2, "placer", "PLAC"), (3, "filler", "FILL")):
        value = _first((orc, obr), field)
        found.append(ei_identifier(value, type_code=code, default_system=ctx.assigner(role)) if value else None)
    group_value = _first((orc,), 4)
    group = (ei_identifier(group_value, type_code="PGN", default_system=ctx.assigner("placer"))
             if group_value else None)
    return OrderIds(found[0], found[1], group)


def identifier_key(resource_type: str, identifier: dict[str, Any] | None) -> Key | None:
    """A key from an Identifier that has a system."""
    if identifier and identifier.get("system") and identifier.get("value"):
        return Key(resource_type, identifier["system"], identifier["value"])
    return None


def request_status(orc: Segment | None, default: str = "unknown") -> str:
    """RequestStatus from ORC-5 (table 0038), else ORC-1 (table 0119)."""
    if orc is None:
        return default
    return ORDER_STATUS.get(orc.get(5).upper()) or ORDER_CONTROL.get(orc.get(1).upper()) or default


def request_key(ctx: Context, ids: OrderIds, position: int, resource_type: str = "ServiceRequest") -> Key:
    """Request key: placer number, else filler number, else this message and the order position."""
    return (identifier_key(resource_type, ids.placer) or identifier_key(resource_type, ids.filler)
            or synthetic_key(resource_type, "order", ctx.sender_system, ctx.header.control_id, str(position)))


def map_service_request(ctx: Context, orc: Segment | None, obr: Segment | None, *, key: Key, ids: OrderIds,
                        code: dict[str, Any] | None = None, tq1: Segment | None = None,
                        notes: list[str] | None = None, links: dict[str, Any] | None = None,
                        create_only: bool = False) -> str | None:
    """Upsert the ServiceRequest of an ORC/OBR pair under `key` (see request_key)."""
    if ctx.subject is None or (orc is None and obr is None):
        return None
    request: dict[str, Any] = {"status": request_status(orc, "active" if obr is not None else "unknown"),
                               "intent": "order", "subject": ctx.patient_ref(), "encounter": ctx.encounter_ref(),
                               "identifier": ids.listed()}
    if ids.group:
        request["requisition"] = ids.group
    concept = code or (cwe_concept(obr.rep(4)) if obr is not None else None)
    if concept:
        request["code"] = concept
    authored = ctx.datetime(orc, 9) if orc is not None and orc.get(9) else None
    if authored:
        request["authoredOn"] = authored
    requester = (orc.rep(12) if orc is not None and orc.has(12)
                 else obr.rep(16) if obr is not None and obr.has(16) else None)
    if requester is not None:
        ref = practitioner(ctx, requester)
        if ref:
            request["requester"] = ref
    # before v2.5 the timing is the TQ of ORC-7 / OBR-27: TQ.4 start, TQ.6 priority (IG "TQ to ServiceRequest")
    timing = [(segment, field) for segment, field in ((orc, 7), (obr, 27))
              if segment is not None and segment.has(field)]
    priority = ((tq1.get(9) if tq1 is not None else "") or (obr.get(5) if obr is not None else "")
                or next((segment.get(field, 6) for segment, field in timing if segment.get(field, 6)), ""))
    if priority.upper() in PRIORITY:
        request["priority"] = PRIORITY[priority.upper()]
    when = ctx.datetime(tq1, 7) if tq1 is not None and tq1.get(7) else None
    for segment, field in timing:
        if when is None and segment.get(field, 4):
            when = ctx.datetime(segment, field, 4)
    if when:
        request["occurrenceDateTime"] = when
    if notes:
        request["note"] = [{"text": text} for text in notes]
    if links:
        request.update({k: v for k, v in links.items() if v})
    return ctx.upsert(key, request, create_only=create_only)
