"""FHIR AuditEvent records of every access to patient data: who, what (references or query), when, outcome."""
from __future__ import annotations

import base64
from typing import Any

from engine.fhir.dates import format_instant

_ACTIONS = {"create": "C", "read": "R", "vread": "R", "history": "R", "search": "E", "update": "U",
            "delete": "D", "operation": "E", "export": "R", "break-glass": "E", "identity": "U"}
_REST_CODES = {"read": "read", "vread": "vread", "history": "history-instance", "search": "search-type",
               "create": "create", "update": "update", "delete": "delete", "operation": "operation",
               "export": "operation", "identity": "operation"}
_OUTCOMES = {"success": "0", "minor": "4", "serious": "8"}
_REST = "http://terminology.hl7.org/CodeSystem/audit-event-type"
_INTERACTION = "http://hl7.org/fhir/restful-interaction"


def outcome_for_status(status: int) -> str:
    """AuditEvent outcome code for an HTTP status (0 success, 4 minor failure, 8 serious failure)."""
    if status < 400:
        return _OUTCOMES["success"]
    return _OUTCOMES["minor"] if status < 500 else _OUTCOMES["serious"]


def audit_event(*, interaction: str, outcome: str, recorded_us: int, client_id: str | None, institution: str | None,
                user: str | None, entities: list[str], query: str | None, path: str,
                break_glass_reason: str | None = None) -> dict[str, Any]:
    """An AuditEvent for one access; holds references and the query, never resource content."""
    who = {"identifier": {"system": "urn:tessera:client", "value": client_id}} if client_id else {
        "display": "unauthenticated client"}
    agent: dict[str, Any] = {"who": who, "requestor": True}
    if user:
        agent["altId"] = user[:200]
    if institution:
        agent["location"] = {"display": institution}
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": {"system": _REST, "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": _INTERACTION, "code": _REST_CODES.get(interaction, "operation")}],
        "action": _ACTIONS.get(interaction, "E"),
        "recorded": format_instant(recorded_us),
        "outcome": outcome,
        "agent": [agent],
        "source": {"site": "tessera", "observer": {"display": "Tessera FHIR API"}},
    }
    described = []
    for reference in entities[:100]:
        described.append({"what": {"reference": reference}, "type": {"code": "2", "display": "System Object"}})
    if query:
        described.append({"query": base64.b64encode(query.encode()[:4000]).decode(),
                          "description": path[:200]})
    elif not entities:
        described.append({"description": path[:200]})
    if described:
        event["entity"] = described
    if break_glass_reason:
        event["subtype"].append({"system": "urn:tessera:audit", "code": "break-glass"})
        event["purposeOfEvent"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                                                "code": "ETREAT", "display": "Emergency Treatment"}],
                                    "text": break_glass_reason[:200]}]
    return event
