"""Status changes a message makes to a resource it does not carry (HL7 MDM T09/T10: the replaced document)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import VersionConflict
from engine.services.conditional import match_conditional
from engine.services.merges import provenance_of_writes, sourced
from engine.services.writes import Clock, persist, prepare_write
from engine.store.ports import UnitOfWork


@dataclass(frozen=True)
class StatusChange:
    """Set `status` of the one resource `query` names, when its status is one of `from_statuses`."""

    resource_type: str
    query: str
    status: str
    from_statuses: tuple[str, ...]


def change_status(uow: UnitOfWork, change: StatusChange, *, clock: Clock, source: str | None,
                  owner: str | None = None, provenance: dict[str, Any] | None = None) -> int:
    """Apply one status change after the message's own writes; the versions written.

    Nothing happens when the query names no resource (it never reached us), several (ambiguous), or one
    whose status is not among `from_statuses` (e.g. a document already entered in error).
    """
    matches = [m for m in match_conditional(uow, change.resource_type, change.query, owner=owner)
               if not m.deleted and m.body is not None]
    if len(matches) != 1 or matches[0].body.get("status") not in change.from_statuses:
        return 0
    target = matches[0]
    now = clock()
    current = uow.current(target.resource_type, target.resource_id, for_update=True)
    if current is None or current.version != target.version:  # written meanwhile: the caller looks up again
        raise VersionConflict(f"{target.key} changed while its status was being changed")
    body = dict(sourced(target.body, source), status=change.status)
    writes = [prepare_write(body, resource_id=target.resource_id, current=current, now_us=now, source=source)]
    if provenance is not None:
        writes.append(provenance_of_writes(provenance, writes, now, source, owner))
    persist(uow, writes)
    return len(writes)
