"""SCH (+ TQ1, NTE, AIS/AIG/AIL/AIP) to Appointment.

HL7 v2-to-FHIR IG: "Segment SCH to Appointment Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-sch-to-appointment.html),
"Segment AIS/AIL/AIP to Appointment Map" (participants), "PL to Location", "XCN to Practitioner".
Status: the event when it says what became of the appointment (S15/S16 cancelled, S17 entered-in-error, S26
noshow), else SCH-25 (table 0278) when valued, else booked.
Start/end come from TQ1-7/8, else SCH-11 (TQ.4/TQ.5), else the AIS/AIL/AIP start plus their duration.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.codes import cwe_concept
from adapters.hl7v2.datatypes.identifiers import ei_identifier
from adapters.hl7v2.datatypes.quantity import parse_number
from adapters.hl7v2.datatypes.time import DEFAULT_UTC_OFFSET, Dtm, fhir_instant, parse_dtm
from adapters.hl7v2.errors import REQUIRED_FIELD_MISSING, TABLE_VALUE_NOT_FOUND
from adapters.hl7v2.identity import Key, synthetic_key
from adapters.hl7v2.segments.locations import location
from adapters.hl7v2.segments.practitioners import practitioner
from adapters.hl7v2.tree import Segment

STATUS_BY_TRIGGER = {"S12": "booked", "S13": "booked", "S14": "booked"}
# events that say what became of the appointment, whatever stale filler status (SCH-25) they carry:
# cancelled S15, discontinued S16 (its remaining occurrences will not happen), deleted S17, no-show S26
STATUS_OF_EVENT = {"S15": "cancelled", "S16": "cancelled", "S17": "entered-in-error", "S26": "noshow"}
# HL7 table 0278 (filler status, SCH-25) to Appointment.status
FILLER_STATUS = {"PENDING": "pending", "WAITLIST": "waitlist", "BOOKED": "booked", "OVERBOOK": "booked",
                 "STARTED": "arrived", "COMPLETE": "fulfilled", "CANCELLED": "cancelled", "DC": "cancelled",
                 "DELETED": "entered-in-error", "NOSHOW": "noshow", "BLOCKED": "booked"}
UNIT_SECONDS = {"S": 1, "SEC": 1, "SECOND": 1, "SECONDS": 1, "M": 60, "MIN": 60, "MINUTE": 60, "MINUTES": 60,
                "H": 3600, "HR": 3600, "HOUR": 3600, "HOURS": 3600, "D": 86400, "DAY": 86400, "DAYS": 86400}
MAX_DURATION_SECONDS = 366 * 86400
# resource segment -> (start field, duration field, duration units field)
TIMING = {"AIS": (4, 7, 8), "AIL": (6, 9, 10), "AIP": (6, 9, 10), "AIG": (8, 11, 12)}


def _parse(text: str) -> Dtm | None:
    try:
        value = parse_dtm(text.split("&")[0]) if text else None
    except ValueError:
        return None
    return value if value is not None and value.has_time and value.day is not None else None


def _plus(start: Dtm, seconds: float, offset: str | None) -> str:
    sign = offset or start.offset or DEFAULT_UTC_OFFSET
    minutes = (int(sign[1:3]) * 60 + int(sign[4:6])) * (-1 if sign[0] == "-" else 1)
    zone = dt.timezone(dt.timedelta(minutes=minutes))
    moment = dt.datetime(start.year, start.month or 1, start.day or 1, start.hour or 0, start.minute or 0,
                         start.second or 0, tzinfo=zone) + dt.timedelta(seconds=seconds)
    return moment.isoformat()


def _duration(segment: Segment, field: int, units_field: int) -> float | None:
    try:
        amount = parse_number(segment.get(field)) if segment.get(field) else None
    except ValueError:
        return None
    factor = UNIT_SECONDS.get((segment.get(units_field, 1) or "MIN").upper())
    return float(amount) * factor if amount is not None and factor and amount > 0 else None


def _timing(ctx: Context, sch: Segment, tq1: Segment | None, resources: list[Segment]) -> tuple[str, str] | None:
    starts: list[tuple[Dtm, float | None]] = []
    if tq1 is not None and _parse(tq1.get(7)):
        end = _parse(tq1.get(8))
        if end:
            return fhir_instant(_parse(tq1.get(7)), ctx.offset), fhir_instant(end, ctx.offset)
        starts.append((_parse(tq1.get(7)), None))
    start, end = _parse(sch.get(11, 4)), _parse(sch.get(11, 5))
    if start and end:
        return fhir_instant(start, ctx.offset), fhir_instant(end, ctx.offset)
    if start:
        starts.append((start, None))
    for segment in resources:
        start_field, duration_field, units_field = TIMING[segment.name]
        start = _parse(segment.get(start_field))
        if start:
            starts.append((start, _duration(segment, duration_field, units_field)))
    if not starts:
        return None
    first = starts[0][0]
    duration = next((d for _, d in starts if d), None) or _duration(sch, 9, 10)
    if duration is None or duration > MAX_DURATION_SECONDS:
        return None
    try:
        end_text = _plus(first, duration, first.offset or ctx.offset)
    except (OverflowError, ValueError):
        return None
    return fhir_instant(first, ctx.offset), end_text


def map_appointment(ctx: Context, sch: Segment, *, trigger: str, tq1: Segment | None, notes: list[str],
                    resources: list[Segment], reasons: list[dict[str, Any]]) -> str | None:
    """Upsert the Appointment of an SIU message, keyed by the filler (SCH-2), else placer (SCH-1) id."""
    if ctx.subject is None:
        return None
    placer = ei_identifier(sch.rep(1), type_code="PLAC", default_system=ctx.assigner("placer"))
    filler = ei_identifier(sch.rep(2), type_code="FILL", default_system=ctx.assigner("filler"))
    filler_status = sch.get(25).upper()
    status = (STATUS_OF_EVENT.get(trigger) or FILLER_STATUS.get(filler_status)
              or STATUS_BY_TRIGGER.get(trigger, "booked"))
    if filler_status and filler_status not in FILLER_STATUS:
        ctx.issue(sch, 25, TABLE_VALUE_NOT_FOUND, "SCH-25 is not an HL7 table 0278 filler status", fatal=False)
    timing = _timing(ctx, sch, tq1, resources)
    chosen = filler or placer
    if chosen:
        key = Key("Appointment", chosen["system"], chosen["value"])
    else:
        key = synthetic_key("Appointment", "appointment", ctx.subject.key.system, ctx.subject.key.value,
                            timing[0] if timing else ctx.header.control_id)
    state = "declined" if status == "cancelled" else "accepted"
    participants = [{"actor": ctx.patient_ref(), "status": state}]
    services = []
    for segment in resources:
        if segment.name == "AIP":
            actor = practitioner(ctx, segment.rep(3))
            role = cwe_concept(segment.rep(4))
        elif segment.name == "AIL":
            actor, role = location(ctx, segment.rep(3)), cwe_concept(segment.rep(4))
        else:
            if segment.name == "AIS":
                service = cwe_concept(segment.rep(3))
                if service and service not in services:
                    services.append(service)
            continue
        if actor and not any(p["actor"]["reference"] == actor["reference"] for p in participants):
            participant: dict[str, Any] = {"actor": actor, "status": state}
            if role:
                participant["type"] = [role]
            participants.append(participant)
    appointment: dict[str, Any] = {"status": status, "identifier": [i for i in (placer, filler) if i],
                                   "participant": participants, "serviceType": services}
    if timing:
        appointment["start"], appointment["end"] = timing
    elif status == "booked":
        ctx.issue(sch, 11, REQUIRED_FIELD_MISSING, "no start/end time for the booked appointment", fatal=False)
    for field, name in ((8, "appointmentType"),):
        concept = cwe_concept(sch.rep(field), "0277")
        if concept:
            appointment[name] = concept
    reason = cwe_concept(sch.rep(7))
    if reason:
        appointment["reasonCode"] = [reason]
        appointment["description"] = reason.get("text") or next(
            (c.get("display") or c.get("code") for c in reason.get("coding", [])), None)
    if reasons:
        appointment["reasonReference"] = reasons
    if status == "cancelled" and sch.has(6):
        appointment["cancelationReason"] = cwe_concept(sch.rep(6))
    if notes:
        appointment["comment"] = "\n".join(notes)
    seconds = _duration(sch, 9, 10)
    if seconds and 60 <= seconds <= 2_147_483_647 * 60 and seconds % 60 == 0:
        appointment["minutesDuration"] = int(seconds // 60)
    return ctx.upsert(key, appointment)
