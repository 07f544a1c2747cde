"""SPM (or OBR-15 in v2.3-2.6) to Specimen.

HL7 v2-to-FHIR IG: "Segment SPM to Specimen Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-spm-to-specimen.html)
and "Segment OBR to Specimen Map" (OBR-15 specimen source, OBR-7 collection time).
"""
from __future__ import annotations

from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.codes import cwe_concept
from adapters.hl7v2.datatypes.identifiers import ei_identifier
from adapters.hl7v2.identity import Key, synthetic_key
from adapters.hl7v2.tree import Segment, Value


def map_specimen(ctx: Context, spm: Segment, scope: tuple[str, str]) -> str | None:
    """Upsert the Specimen of an SPM segment, keyed by SPM-2 (filler, else placer id) or report + SPM-1."""
    if ctx.subject is None:
        return None
    specimen_id = spm.rep(2)
    identifiers = []
    for part, role in ((2, "filler"), (1, "placer")):
        identifier = ei_identifier(specimen_id.comp(part), default_system=ctx.assigner(role))
        if identifier:
            identifiers.append(identifier)
    if identifiers:
        key = Key("Specimen", identifiers[0]["system"], identifiers[0]["value"])
    else:
        key = synthetic_key("Specimen", "specimen", scope[0], scope[1], spm.get(1) or "1")
    specimen: dict[str, Any] = {"subject": ctx.patient_ref(), "identifier": identifiers}
    kind = cwe_concept(spm.rep(4), "0487")
    if kind:
        specimen["type"] = kind
    collection: dict[str, Any] = {}
    start = ctx.datetime(spm, 17, 1)
    if start:
        collection["collectedDateTime"] = start
    for field, name in ((7, "method"), (8, "bodySite")):
        concept = cwe_concept(spm.rep(field))
        if concept:
            collection[name] = concept
    if collection:
        specimen["collection"] = collection
    received = ctx.datetime(spm, 18)
    if received:
        specimen["receivedTime"] = received
    return ctx.upsert(key, specimen)


def map_obr_specimen(ctx: Context, obr: Segment, scope: tuple[str, str]) -> str | None:
    """Upsert a Specimen from OBR-15 (specimen source) when no SPM segment describes it."""
    if ctx.subject is None or not obr.has(15):
        return None
    source = obr.rep(15)
    kind = cwe_concept(Value(source.comp(1).parts, source.enc)) or ({"text": source.c(1)} if source.c(1) else None)
    if kind is None:
        return None
    key = synthetic_key("Specimen", "specimen", scope[0], scope[1], "OBR-15")
    specimen: dict[str, Any] = {"subject": ctx.patient_ref(), "type": kind}
    collected = ctx.datetime(obr, 7)
    if collected:
        specimen["collection"] = {"collectedDateTime": collected}
    return ctx.upsert(key, specimen)
