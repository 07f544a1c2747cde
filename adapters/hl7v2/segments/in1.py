"""IN1 to Coverage with its payor Organization.

HL7 v2-to-FHIR IG: "Segment IN1 to Coverage Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-in1-to-coverage.html)
and "Segment IN1 to Organization Map" (payor from IN1-3 company id / IN1-4 company name).
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.codes import cwe_concept
from adapters.hl7v2.datatypes.contact import xad_address, xtn_contact
from adapters.hl7v2.datatypes.identifiers import cx_identifier
from adapters.hl7v2.identity import synthetic_key
from adapters.hl7v2.segments.practitioners import organization
from adapters.hl7v2.tree import Segment

COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"


def _payor(ctx: Context, in1: Segment) -> dict[str, Any] | None:
    company = cx_identifier(in1.rep(3))
    extra: dict[str, Any] = {}
    address = xad_address(in1.rep(5))
    if address:
        extra["address"] = [address]
    phone = xtn_contact(in1.rep(7), "work")
    if phone:
        extra["telecom"] = [phone]
    name = in1.get(4, 1)
    if company:
        return organization(ctx, name, company["value"], company.get("system"), extra)
    return organization(ctx, name, extra=extra)


def map_coverage(ctx: Context, in1: Segment) -> str | None:
    """Upsert the Coverage of an IN1 segment; its fullUrl (None without a plan, company or policy)."""
    if ctx.subject is None:
        return None
    plan, company, policy = in1.get(2), in1.get(3), in1.get(36)
    if not (plan or company or policy or in1.get(4)):
        return None
    payor = _payor(ctx, in1) or ctx.patient_ref()
    key = synthetic_key("Coverage", "coverage", ctx.subject.key.system, ctx.subject.key.value,
                        company or in1.get(4), plan, policy)
    coverage: dict[str, Any] = {"status": "active", "beneficiary": ctx.patient_ref(), "payor": [payor]}
    if policy:
        coverage["subscriberId"] = policy
    kind = cwe_concept(in1.rep(15), "0086")
    if kind:
        coverage["type"] = kind
    relationship = cwe_concept(in1.rep(17), "0063")
    if relationship:
        coverage["relationship"] = relationship
    start, end = ctx.date(in1, 12), ctx.date(in1, 13)
    if start or end:
        coverage["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    classes = []
    if plan:
        classes.append({"type": {"coding": [{"system": COVERAGE_CLASS, "code": "plan"}]}, "value": plan,
                        **({"name": in1.get(2, 2)} if in1.get(2, 2) else {})})
    if in1.get(8):
        classes.append({"type": {"coding": [{"system": COVERAGE_CLASS, "code": "group"}]}, "value": in1.get(8),
                        **({"name": in1.get(9, 1)} if in1.get(9, 1) else {})})
    coverage["class"] = classes
    return ctx.upsert(key, coverage, create_only=not ctx.owns("Coverage"))  # ADT and BAR own coverage
