"""OBR to DiagnosticReport (status OBR-25, code OBR-4, effective OBR-7, issued OBR-22, placer/filler ids).

HL7 v2-to-FHIR IG: "Segment OBR to DiagnosticReport Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-obr-to-diagnosticreport.html)
and "Table HL70123 to DiagnosticReport Status".
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.codes import cwe_code, cwe_concept
from adapters.hl7v2.errors import REQUIRED_FIELD_MISSING, TABLE_VALUE_NOT_FOUND
from adapters.hl7v2.identity import Key, synthetic_key
from adapters.hl7v2.segments.orders import OrderIds, identifier_key
from adapters.hl7v2.segments.practitioners import practitioner_cnn
from adapters.hl7v2.terminology import REPORT_STATUS
from adapters.hl7v2.tree import Segment


def report_key(ctx: Context, obr: Segment | None, ids: OrderIds, position: int) -> Key:
    """DiagnosticReport key: filler number, else placer number, with the OBR-4 service (one accession number
    often covers several reports of one specimen); else this message and OBR position."""
    order = identifier_key("DiagnosticReport", ids.filler) or identifier_key("DiagnosticReport", ids.placer)
    if order is not None:
        service = cwe_code(obr.rep(4)) if obr is not None else ""
        return synthetic_key("DiagnosticReport", "report-order", order.system, order.value, service)
    return synthetic_key("DiagnosticReport", "report", ctx.sender_system, ctx.header.control_id, str(position))


def report_code(ctx: Context, obr: Segment) -> dict[str, Any]:
    """OBR-4 as a CodeableConcept (a 101 warning and a placeholder text when it is empty)."""
    code = cwe_concept(obr.rep(4))
    if code is None:
        ctx.issue(obr, 4, REQUIRED_FIELD_MISSING, "OBR-4 (universal service identifier) is missing", fatal=False)
        return {"text": "unspecified report"}
    return code


def map_report(ctx: Context, obr: Segment, key: Key, ids: OrderIds, *, results: list[str],
               specimens: list[str], based_on: str | None,
               presented_form: list[dict[str, Any]] | None = None) -> str | None:
    """Upsert the DiagnosticReport of an OBR with references to its results, specimens and order, and the
    documents its OBX carried (ED) as `presentedForm`."""
    if ctx.subject is None:
        return None
    status_code = obr.get(25).upper()
    status = REPORT_STATUS.get(status_code, "unknown")
    if status_code and status_code not in REPORT_STATUS:
        ctx.issue(obr, 25, TABLE_VALUE_NOT_FOUND, "OBR-25 is not an HL7 table 0123 result status", fatal=False)
    report: dict[str, Any] = {"status": status, "code": report_code(ctx, obr), "subject": ctx.patient_ref(),
                              "encounter": ctx.encounter_ref(), "identifier": ids.listed()}
    effective, ended = ctx.datetime(obr, 7), ctx.datetime(obr, 8)
    if effective and ended:  # OBR-8: the end of a collection over time (e.g. a 24-hour urine)
        report["effectivePeriod"] = {"start": effective, "end": ended}
    elif effective:
        report["effectiveDateTime"] = effective
    issued = ctx.instant(obr, 22)
    if issued:
        report["issued"] = issued
    interpreter = practitioner_cnn(ctx, obr.rep(32).comp(1)) if obr.has(32) else None
    if interpreter:
        report["resultsInterpreter"] = [interpreter]
    report["result"] = [{"reference": url} for url in results]
    report["specimen"] = [{"reference": url} for url in specimens]
    if based_on:
        report["basedOn"] = [{"reference": based_on}]
    if presented_form:
        report["presentedForm"] = presented_form
    return ctx.upsert(key, report)
