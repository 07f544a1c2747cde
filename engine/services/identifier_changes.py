"""Identifier corrections (HL7 ADT A47 for a patient, A50 for a visit): the record stays, its identifier changes.

The identifier a correction retires is removed, not kept as `use: old`: it was wrong, and it may belong to
someone else, whose later messages must never reach this record (the earlier version keeps it in history).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidResource, Issue
from engine.services.conditional import match_conditional
from engine.services.feed_updates import follow_merges
from engine.services.follow_up_writes import persist_recorded, rewrite_unchanged, sourced
from engine.services.merges import MAX_MERGE_MATCHES
from engine.services.writes import Clock
from engine.store.model import StoredResource
from engine.store.ports import UnitOfWork


class IdentifierChangeConflict(InvalidResource):
    """An identifier correction names no single record, or its new identifier names another one."""

    issue_code = "duplicate"


@dataclass(frozen=True)
class IdentifierChange:
    """Give the resource `old_query` names `new_identifier` in place of the identifier `old` (system, value).

    `old_field` and `new_field` say where the message carried each (e.g. MRG-1 and PID-3), for errors.
    """

    resource_type: str
    old_query: str
    old: tuple[str, str]
    new_query: str
    new_identifier: dict[str, Any]
    old_field: str
    new_field: str


def change_identifier(uow: UnitOfWork, change: IdentifierChange, *, clock: Clock, source: str | None,
                      owner: str | None = None, provenance: dict[str, Any] | None = None) -> int:
    """Apply one identifier correction before the message's own writes; the versions written.

    Nothing known by the old identifier (never sent to us, or corrected already): nothing to do, and the
    message's own upsert creates or updates the record by the new one. With `owner`, only that
    institution's records are considered. A merged-away patient's correction reaches its survivor.
    Raises VersionConflict when the record changed between its lookup and its lock (the feed retries).
    """
    olds = _named(uow, change.resource_type, change.old_query, owner, for_write=True)
    if not olds:
        return 0
    if len(olds) > 1:
        raise IdentifierChangeConflict("The identifier to change names more than one record", issues=[
            Issue("duplicate", f"{change.old_field} names more than one {change.resource_type}", change.old_field)])
    target = olds[0]
    others = [found for found in _named(uow, change.resource_type, change.new_query, owner, for_write=True)
              if found.key != target.key]
    if others:
        hint = "; merge the two (A40) instead" if change.resource_type == "Patient" else ""
        raise IdentifierChangeConflict("The new identifier names another record", issues=[Issue(
            "duplicate", f"{change.new_field} already names another {change.resource_type}{hint}",
            change.new_field)])
    body = sourced(target.body or {}, source)
    identifiers = [item for item in body.get("identifier") or [] if (item.get("system"), item.get("value"))
                   != change.old]
    new = (change.new_identifier.get("system"), change.new_identifier.get("value"))
    if not any((item.get("system"), item.get("value")) == new for item in identifiers):
        identifiers.insert(0, dict(change.new_identifier))
    if identifiers == (target.body or {}).get("identifier"):
        return 0
    body["identifier"] = identifiers
    now = clock()
    return persist_recorded(uow, [rewrite_unchanged(uow, target, body, now, source)], provenance=provenance,
                            now=now, source=source, owner=owner)


def _named(uow: UnitOfWork, resource_type: str, query: str, owner: str | None, *,
           for_write: bool = False) -> list[StoredResource]:
    matches = match_conditional(uow, resource_type, query, owner=owner, for_write=for_write,
                                limit=MAX_MERGE_MATCHES)
    live = [m for m in matches if not m.deleted and m.body is not None]
    return follow_merges(uow, live) if resource_type == "Patient" else live
