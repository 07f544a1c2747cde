"""OBX (+ NTE) to Observation, the value typed by OBX-2.

HL7 v2-to-FHIR IG: "Segment OBX to Observation Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-obx-to-observation.html),
"Table HL70085 to Observation Status" (unmapped codes: I/O registered, R/S preliminary, U final, B amended,
N cancelled), "Table HL70078 to Observation Interpretation", "SN to Quantity/Range/Ratio", "CWE to CodeableConcept".
A value that does not match OBX-2 is a 102 error on OBX-5 (the message is answered AE).
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.codes import cwe_code, cwe_concept, fhir_code
from adapters.hl7v2.datatypes.quantity import parse_number, quantity, reference_range, sn_value, unit_fields
from adapters.hl7v2.datatypes.time import fhir_datetime, fhir_time, parse_dtm
from adapters.hl7v2.errors import DATA_TYPE_ERROR, REQUIRED_FIELD_MISSING, TABLE_VALUE_NOT_FOUND
from adapters.hl7v2.identity import join_key, synthetic_key
from adapters.hl7v2.segments.practitioners import organization_xon, practitioner
from adapters.hl7v2.terminology import INTERPRETATION, INTERPRETATION_ALIASES, OBSERVATION_STATUS, V2, V3_INTERPRETATION
from adapters.hl7v2.tree import Segment, Value

ANALYSIS_DATE_TIME = "http://hl7.org/fhir/StructureDefinition/observation-analysis-date-time"
TEXT_TYPES = {"ST", "TX", "FT", "TEXT"}
CODED_TYPES = {"CE", "CWE", "CNE", "CF", "CD"}
DATE_TYPES = {"DT", "DTM", "TS", "DR"}
SKIPPED_TYPES = {"ED", "CP", "MO"}


class BadValue(ValueError):
    """OBX-5 does not hold a value of the OBX-2 type."""


def _one_value(kind: str, rep: Value, units: dict[str, Any], offset: str | None) -> tuple[str, Any] | None:
    if kind == "NM":
        try:
            return "valueQuantity", quantity(parse_number(rep.c(1)), units)
        except ValueError as exc:
            raise BadValue("not a number") from exc
    if kind == "SN":
        try:
            return sn_value(rep, units)
        except ValueError as exc:
            raise BadValue("not a structured numeric") from exc
    if kind in CODED_TYPES:
        concept = cwe_concept(rep)
        return ("valueCodeableConcept", concept) if concept else None
    if kind in ("ID", "IS"):
        code = fhir_code(rep.c(1))
        return ("valueCodeableConcept", {"coding": [{"code": code}]}) if code else None
    if kind == "DR":
        try:
            period = {name: fhir_datetime(parse_dtm(rep.s(comp, 1)), offset)
                      for comp, name in ((1, "start"), (2, "end")) if rep.s(comp, 1)}
        except ValueError as exc:
            raise BadValue("not a date/time range") from exc
        return ("valuePeriod", period) if period else None
    if kind in DATE_TYPES:
        try:
            return "valueDateTime", fhir_datetime(parse_dtm(rep.c(1)), offset)
        except ValueError as exc:
            raise BadValue("not a date/time") from exc
    if kind == "TM":
        try:
            return "valueTime", fhir_time(rep.c(1))
        except ValueError as exc:
            raise BadValue("not a time") from exc
    if kind == "RP":
        return ("valueString", rep.c(1)) if rep.c(1) else None
    text = rep.text()
    return ("valueString", text) if text else None


def _values(ctx: Context, obx: Segment, kind: str, units: dict[str, Any]) -> list[tuple[str, Any]]:
    reps = obx.reps(5)
    if not reps:
        return []
    if kind in TEXT_TYPES or not kind:
        if not kind:
            ctx.issue(obx, 2, REQUIRED_FIELD_MISSING, "OBX-2 (value type) is missing; OBX-5 kept as text", fatal=False)
        return [("valueString", "\n".join(obx.lines(5)).strip("\n"))]
    if kind == "ED" and id(obx) in ctx.attached:
        return []  # the document is the report's presentedForm
    if kind in SKIPPED_TYPES:
        ctx.issue(obx, 5, TABLE_VALUE_NOT_FOUND, f"OBX-2 value type {kind} has no FHIR R4 Observation value; "
                  "the value was not mapped", fatal=False)
        return []
    values = []
    for rep in reps:
        try:
            value = _one_value(kind, rep, units, ctx.offset)
        except BadValue:
            ctx.issue(obx, 5, DATA_TYPE_ERROR, f"OBX-5 does not hold a valid {kind} value", fatal=True)
            return []
        if value:
            values.append(value)
    return values


def _interpretation(obx: Segment) -> list[dict[str, Any]]:
    found = []
    for rep in obx.reps(8):
        code = rep.c(1).upper()
        code = INTERPRETATION_ALIASES.get(code, code)
        if code in INTERPRETATION:
            item = {"system": V3_INTERPRETATION, "code": code}
        elif code:
            item = {"system": f"{V2}0078", "code": fhir_code(rep.c(1))}
        else:
            continue
        if rep.c(2):
            item["display"] = rep.c(2)
        found.append({"coding": [item]})
    return found


def _status(ctx: Context, obx: Segment) -> str:
    code = obx.get(11).upper()
    if code in OBSERVATION_STATUS:
        return OBSERVATION_STATUS[code]
    if code:
        ctx.issue(obx, 11, TABLE_VALUE_NOT_FOUND, "OBX-11 is not an HL7 table 0085 result status", fatal=False)
    return "unknown"


def map_observation(ctx: Context, obx: Segment, *, scope: tuple[str, str], occurrence: int,
                    default_code: dict[str, Any] | None = None, effective: str | None = None,
                    notes: list[str] | None = None, links: dict[str, Any] | None = None) -> str | None:
    """Upsert the Observation of one OBX; keyed by `scope` (report system, value), OBX-3 and OBX-4, and the
    `occurrence` of that code and sub-id in the report."""
    if ctx.subject is None:
        return None
    code = cwe_concept(obx.rep(3))
    if code is None:
        if default_code is None:
            ctx.issue(obx, 3, REQUIRED_FIELD_MISSING, "OBX-3 (observation identifier) is missing", fatal=False)
        code = dict(default_code) if default_code else {"text": "unspecified observation"}
    kind = obx.get(2).upper()
    units = unit_fields(obx.rep(6))
    values = _values(ctx, obx, kind, units)
    key = synthetic_key("Observation", "observation", scope[0], scope[1],
                        join_key(str(occurrence), obx.text(4)), cwe_code(obx.rep(3)))
    observation: dict[str, Any] = {"status": _status(ctx, obx), "code": code, "subject": ctx.patient_ref(),
                                   "encounter": ctx.encounter_ref()}
    if values:
        name, value = values[0]
        observation[name] = value
        if len(values) > 1:
            observation["component"] = [{"code": dict(code), other: item} for other, item in values]
            del observation[name]
    ranges = reference_range(obx.get(7), units if values and values[0][0] == "valueQuantity" else {})
    if ranges:
        observation["referenceRange"] = [ranges]
    observation["interpretation"] = _interpretation(obx)
    when = ctx.datetime(obx, 14, fatal=True) if obx.get(14) else effective
    if when:
        observation["effectiveDateTime"] = when
    analysed = ctx.datetime(obx, 19) if obx.get(19) else None
    if analysed:  # when the analysis ran, not when the result was issued (IG OBX map)
        observation["extension"] = [{"url": ANALYSIS_DATE_TIME, "valueDateTime": analysed}]
    performers = [practitioner(ctx, rep) for rep in obx.reps(16)]
    performers.append(organization_xon(ctx, obx.rep(23)) if obx.has(23) else None)
    observation["performer"] = [p for p in performers if p]
    for field, name in ((17, "method"), (20, "bodySite")):
        concept = cwe_concept(obx.rep(field))
        if concept:
            observation[name] = concept
    if notes:
        observation["note"] = [{"text": text} for text in notes]
    if links:
        observation.update({k: v for k, v in links.items() if v})
    return ctx.upsert(key, observation)
