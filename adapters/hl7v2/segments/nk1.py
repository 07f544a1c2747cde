"""NK1 to RelatedPerson, keyed by patient + name + relationship.

HL7 v2-to-FHIR IG: "Segment NK1 to RelatedPerson Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-nk1-to-relatedperson.html).
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.codes import cwe_concept
from adapters.hl7v2.datatypes.contact import xad_address, xtn_contact
from adapters.hl7v2.datatypes.identifiers import cx_identifier
from adapters.hl7v2.datatypes.names import xpn_name
from adapters.hl7v2.identity import synthetic_key
from adapters.hl7v2.segments.pid import gender_code
from adapters.hl7v2.tree import Segment


def map_related_person(ctx: Context, nk1: Segment) -> str | None:
    """Upsert the RelatedPerson of an NK1 segment; its fullUrl (None without a name or organization)."""
    if ctx.subject is None:
        return None
    names = [name for name in (xpn_name(rep) for rep in nk1.reps(2)) if name]
    organization_name = nk1.get(13)
    if not names and not organization_name:
        return None
    relationship = [c for c in (cwe_concept(nk1.rep(3), "0063"), cwe_concept(nk1.rep(7), "0131")) if c]
    first = names[0] if names else {"text": organization_name}
    key = synthetic_key("RelatedPerson", "related-person", ctx.subject.key.system, ctx.subject.key.value,
                        first.get("family") or first.get("text"), " ".join(first.get("given", [])),
                        nk1.get(3) or nk1.get(7))
    person: dict[str, Any] = {"patient": ctx.patient_ref(), "name": names or [first], "relationship": relationship}
    person["address"] = [a for a in (xad_address(rep) for rep in nk1.reps(4)) if a]
    telecom = [xtn_contact(rep, "home") for rep in nk1.reps(5)] + [xtn_contact(rep, "work") for rep in nk1.reps(6)]
    person["telecom"] = [t for t in telecom if t]
    gender = gender_code(nk1.get(15))
    if gender:
        person["gender"] = gender
    born = ctx.date(nk1, 16)
    if born:
        person["birthDate"] = born
    start, end = ctx.date(nk1, 8), ctx.date(nk1, 9)
    if start or end:
        person["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    person["identifier"] = [i for i in (cx_identifier(rep) for rep in nk1.reps(33)) if i]
    return ctx.upsert(key, person)
