"""TXA (+ OBX text / ED content) to DocumentReference.

HL7 v2-to-FHIR IG: "Segment TXA to DocumentReference Map" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-segment-txa-to-documentreference.html)
(status from TXA-19, "current" when not valued; T11 cancels), "Segment OBX to DocumentReference Map" (TX/FT/ST
lines joined into a text/plain attachment, ED as attachment) and table 0271 (TXA-17) for docStatus.
An addendum (T05/T06) `appends` to, a replacement (T09/T10) `replaces` the parent document TXA-13, named by
its identifier (it may not have reached us); a replaced document that is stored and current becomes
`superseded`. A notification without the text (T01/T03/T05/T07/T09) sends the
content FHIR requires as a placeholder that never replaces text the store already holds.
"""
from __future__ import annotations

import base64
from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.datatypes.encapsulated import ed_attachment
from adapters.hl7v2.datatypes.codes import cwe_concept
from adapters.hl7v2.datatypes.identifiers import ei_identifier
from adapters.hl7v2.identity import Key, synthetic_key
from adapters.hl7v2.model import StatusChange
from adapters.hl7v2.segments.practitioners import practitioner
from adapters.hl7v2.terminology import DOC_AVAILABILITY, DOC_STATUS
from adapters.hl7v2.tree import Segment

TEXT_TYPES = {"TX", "FT", "ST", "TEXT"}
RELATION_BY_TRIGGER = {"T05": "appends", "T06": "appends", "T09": "replaces", "T10": "replaces"}
def document_text(segments: list[Segment]) -> str:
    """The text of the TX/FT/ST OBX lines (repetitions are lines), joined with newlines."""
    lines: list[str] = []
    for obx in segments:
        if obx.get(2).upper() in TEXT_TYPES or not obx.get(2):
            lines.extend(obx.lines(5) or [""])
    return "\n".join(lines).strip("\n")


def map_document(ctx: Context, txa: Segment, observations: list[Segment], *, trigger: str) -> str | None:
    """Upsert the DocumentReference of an MDM message (TXA + OBX); keyed by TXA-12, else this message."""
    if ctx.subject is None:
        return None
    identifier = ei_identifier(txa.rep(12), default_system=ctx.sender_system)
    key = (Key("DocumentReference", identifier["system"], identifier["value"]) if identifier
           else synthetic_key("DocumentReference", "document", ctx.sender_system, ctx.header.control_id))
    status = "entered-in-error" if trigger == "T11" else DOC_AVAILABILITY.get(txa.get(19).upper(), "current")
    document: dict[str, Any] = {"status": status,
                                "subject": ctx.patient_ref(), "identifier": [identifier] if identifier else []}
    doc_status = DOC_STATUS.get(txa.get(17).upper())
    if doc_status:
        document["docStatus"] = doc_status
    kind = cwe_concept(txa.rep(2), "0270")
    if kind:
        document["type"] = kind
    when = ctx.instant(txa, 6) or ctx.instant(txa, 4)
    if when:
        document["date"] = when
    authors: dict[str, dict[str, Any]] = {}
    for rep in txa.reps(9) + txa.reps(5):
        ref = practitioner(ctx, rep)
        if ref:
            authors.setdefault(ref["reference"], ref)
    document["author"] = list(authors.values())
    authenticator = practitioner(ctx, txa.rep(10)) if txa.has(10) else (
        practitioner(ctx, txa.rep(22)) if txa.has(22) else None)
    if authenticator:
        document["authenticator"] = authenticator
    content = []
    text = document_text(observations)
    if text:
        content.append({"attachment": {"contentType": "text/plain",
                                       "data": base64.b64encode(text.encode("utf-8")).decode("ascii")}})
    for obx in observations:
        if obx.get(2).upper() == "ED":
            attachment = ed_attachment(ctx, obx)
            if attachment:
                content.append({"attachment": attachment})
    placeholder = not content
    if placeholder:
        title = txa.get(16) or f"document content not included ({ctx.header.message_type}^{trigger})"
        content.append({"attachment": {"contentType": "text/plain", "title": title}})
    document["content"] = content
    parent = ei_identifier(txa.rep(13), default_system=ctx.sender_system) if trigger in RELATION_BY_TRIGGER else None
    if parent:
        document["relatesTo"] = [{"code": RELATION_BY_TRIGGER[trigger],
                                  "target": {"type": "DocumentReference", "identifier": parent}}]
        if RELATION_BY_TRIGGER[trigger] == "replaces" and parent.get("system"):
            replaced = Key("DocumentReference", parent["system"], parent["value"])
            if replaced != key:  # the replaced document, when it reached us, is superseded
                ctx.status_changes.append(StatusChange("DocumentReference", replaced.readable_query, "superseded",
                                                       ("current",), ctx.subject.key.readable_query))
    encounter = ctx.encounter_ref()
    if encounter:
        document["context"] = {"encounter": [encounter]}
    full_url = ctx.upsert(key, document)
    if placeholder:
        ctx.note_placeholders(full_url, "content")
    return full_url
