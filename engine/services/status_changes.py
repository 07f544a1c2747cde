"""Status changes a message makes to a resource it does not carry (HL7 MDM T09/T10: the replaced document)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.services.conditional import match_conditional
from engine.services.follow_up_writes import patients_named, persist_recorded, rewrite_unchanged, sourced
from engine.services.writes import Clock
from engine.store.ports import UnitOfWork


@dataclass(frozen=True)
class StatusChange:
    """Set `status` of the one resource `query` names, when its status is one of `from_statuses` and (with
    `patient_query`) it belongs to the patient that query names."""

    resource_type: str
    query: str
    status: str
    from_statuses: tuple[str, ...]
    patient_query: str | None = None


def change_status(uow: UnitOfWork, change: StatusChange, *, clock: Clock, source: str | None,
                  owner: str | None = None, provenance: dict[str, Any] | None = None) -> int:
    """Apply one status change after the message's own writes; the versions written.

    Nothing happens when the query names no resource (it never reached us), several (ambiguous), one
    whose status is not among `from_statuses` (e.g. a document already entered in error), or one of
    another patient.
    """
    matches = [m for m in match_conditional(uow, change.resource_type, change.query, owner=owner)
               if not m.deleted and m.body is not None]
    if len(matches) != 1 or matches[0].body.get("status") not in change.from_statuses:
        return 0
    target = matches[0]
    if change.patient_query is not None and (
            _subject(target.body) not in patients_named(uow, change.patient_query, owner)):
        return 0  # the identifier names another patient's resource: not the one the message means
    now = clock()
    body = dict(sourced(target.body, source), status=change.status)
    return persist_recorded(uow, [rewrite_unchanged(uow, target, body, now, source)], provenance=provenance,
                            now=now, source=source, owner=owner)


def _subject(body: dict[str, Any]) -> str | None:
    return ((body.get("subject") or body.get("patient") or {}).get("reference"))
