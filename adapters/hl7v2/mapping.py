"""map_message: dispatch a parsed message to its translator, add the Provenance, return the Bundle."""
from __future__ import annotations

import logging
import traceback
from typing import Any

from adapters.hl7v2.context import Context
from adapters.hl7v2.errors import (DATA_TYPE_ERROR, INTERNAL_ERROR, REQUIRED_FIELD_MISSING, UNSUPPORTED_VERSION, MappingError,
                                   MappingIssue, UnsupportedMessage)
from adapters.hl7v2.escape import unescape
from adapters.hl7v2.messages import handler_for
from adapters.hl7v2.model import MappingResult, ParsedMessage

log = logging.getLogger(__name__)
RAW_MESSAGE_SYSTEM = "urn:tessera:raw-message"
EVENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0003"
AGENT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
SUPPORTED_VERSIONS = ("2.3", "2.4", "2.5", "2.6", "2.7", "2.8")


def map_message(message: ParsedMessage, *, raw_message_id: str, received_at: str) -> MappingResult:
    """Translate a parsed message into a FHIR transaction Bundle; raises UnsupportedMessage or MappingError."""
    try:
        return _map(message, raw_message_id=raw_message_id, received_at=received_at)
    except (UnsupportedMessage, MappingError):
        raise
    except Exception as exc:  # a defect must still be answered (AE), never crash the feed
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        # type and code location only: the exception text could quote message content (patient data)
        log.error("HL7 v2 mapping failed unexpectedly: %s at %s:%s", type(exc).__name__,
                  where.filename if where else "?", where.lineno if where else "?")
        raise MappingError([MappingIssue("MSH", 1, None, INTERNAL_ERROR,
                                         "application internal error while mapping the message")]) from None


def _version_warnings(message: ParsedMessage) -> list[MappingIssue]:
    version = message.header.version
    if not version:
        return [MappingIssue("MSH", 1, 12, REQUIRED_FIELD_MISSING, "MSH-12 (version id) is empty", "W")]
    if not version.startswith("2."):
        raise UnsupportedMessage("only HL7 version 2 messages are supported", UNSUPPORTED_VERSION, field=12)
    if not version.startswith(SUPPORTED_VERSIONS):
        return [MappingIssue("MSH", 1, 12, UNSUPPORTED_VERSION,
                             "HL7 version outside 2.3-2.8; mapped as the nearest supported version", "W")]
    return []


def _map(message: ParsedMessage, *, raw_message_id: str, received_at: str) -> MappingResult:
    header = message.header
    message_type, trigger = header.message_type.upper(), header.trigger_event.upper()
    handler = handler_for(message_type, trigger)
    warnings = _version_warnings(message)
    ctx = Context(message, raw_message_id=raw_message_id, received_at=received_at)
    ctx.warnings.extend(warnings)
    _report_nul_characters(ctx)
    handler(ctx, trigger)
    if ctx.issues:
        raise MappingError(ctx.issues + ctx.warnings)
    provenance = _provenance(ctx, message_type, trigger)
    bundle = ctx.builder.bundle(provenance, f"Provenance|{raw_message_id}|{ctx.sender_system}|{header.control_id}")
    # a message that writes nothing of its own (a deletion) still records the versions its instructions write
    template = None if provenance is not None else dict(_provenance(ctx, message_type, trigger, targets=[]) or {},
                                                         meta={"source": ctx.builder.source})
    return MappingResult(bundle=bundle, merges=ctx.merges, identifier_changes=ctx.identifier_changes,
                         status_changes=ctx.status_changes, visit_moves=ctx.visit_moves,
                         account_merges=ctx.account_merges, patient_links=ctx.patient_links,
                         patient_deletions=ctx.patient_deletions, warnings=ctx.warnings, updates=ctx.updates,
                         provenance_template=template)


def _report_nul_characters(ctx: Context) -> None:
    """U+0000 (sent as is or as a \\X00\\ escape) cannot be stored in FHIR strings: name each field holding it."""
    message = ctx.message
    esc = message.encoding.escape
    if "\x00" not in message.text and not (esc and f"{esc}X" in message.text):
        return
    for segment in message.segments:
        for n in range(1, segment.field_count + 1):
            raw = segment.raw(n)
            if "\x00" in raw or (esc and esc in raw and "\x00" in unescape(raw, segment.enc)):
                ctx.issue(segment, n, DATA_TYPE_ERROR, f"{segment.name}-{n} contains the NUL character (U+0000)",
                          fatal=True)


def _provenance(ctx: Context, message_type: str, trigger: str,
                targets: list[str] | None = None) -> dict[str, Any] | None:
    """The message's Provenance targeting every entry (None without entries); with `targets` given, for
    exactly those (an empty list: a template whose targets the feed fills in)."""
    if targets is None:
        targets = ctx.builder.full_urls()
        if not targets:
            return None
    header = ctx.header
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "target": [{"reference": url} for url in targets],
        "recorded": ctx.received_at,
        "activity": {"coding": [{"system": EVENT_SYSTEM, "code": trigger}], "text": f"{message_type}^{trigger}"},
        "agent": [{"type": {"coding": [{"system": AGENT_TYPE, "code": "author"}]},
                   "who": {"display": ctx.sender_facility or ctx.sender_application or "unknown sender"}}],
        "entity": [{"role": "source", "what": {
            "identifier": {"system": RAW_MESSAGE_SYSTEM, "value": ctx.raw_message_id},
            "display": f"HL7v2 {message_type}^{trigger} {header.control_id}"}}],
    }
    evn = ctx.message.first("EVN")
    occurred = ctx.datetime(evn, 2) if evn is not None and evn.get(2) else None
    if occurred:
        provenance["occurredDateTime"] = occurred
    return provenance
