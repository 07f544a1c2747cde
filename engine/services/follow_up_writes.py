"""Writes a feed message makes beyond its own Bundle (merges, corrections, moves): sourced, checked, recorded."""
from __future__ import annotations

from typing import Any

from engine.errors import VersionConflict
from engine.services.conditional import match_conditional
from engine.services.feed_updates import follow_merges
from engine.services.writes import new_id, persist, prepare_delete, prepare_write
from engine.store.model import PendingWrite, StoredResource
from engine.store.ports import UnitOfWork


MAX_NAMED = 50  # patients one identifier may name (e.g. retired ones along a merge chain)


def patients_named(uow: UnitOfWork, query: str, owner: str | None) -> set[str]:
    """`Patient/<id>` of every patient a conditional query names, merged-away ones with their survivors."""
    named = match_conditional(uow, "Patient", query, owner=owner, limit=MAX_NAMED)
    return {patient.key for patient in named + follow_merges(uow, named)}


def sourced(body: dict[str, Any], source: str | None) -> dict[str, Any]:
    """A copy of `body` whose meta.source names the writer of the new version."""
    copied = dict(body)
    meta = {k: v for k, v in (copied.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    if source:
        meta["source"] = source
    if meta:
        copied["meta"] = meta
    else:
        copied.pop("meta", None)
    return copied


def rewrite_unchanged(uow: UnitOfWork, resource: StoredResource, body: dict[str, Any], now: int,
                      source: str | None, owner: str | None = None) -> PendingWrite | None:
    """A new version of `resource` holding `body`, locked; None when it belongs to an institution other than
    `owner` (a message never rewrites another's record); VersionConflict when it was written since it was
    read (the feed then looks everything up again)."""
    current = uow.current(resource.resource_type, resource.resource_id, for_update=True)
    if current is None or current.version != resource.version:
        raise VersionConflict(f"{resource.key} changed while a message was rewriting it")
    if owner is not None and current.institution not in (None, owner):
        return None
    return prepare_write(body, resource_id=resource.resource_id, current=current, now_us=now, source=source)


def delete_unchanged(uow: UnitOfWork, resource: StoredResource, now: int, owner: str | None = None,
                     ) -> PendingWrite | None:
    """A deleted version of `resource`, as `rewrite_unchanged` checks it (None for another's record)."""
    current = uow.current(resource.resource_type, resource.resource_id, for_update=True)
    if current is None or current.version != resource.version:
        raise VersionConflict(f"{resource.key} changed while a message was deleting it")
    if owner is not None and current.institution not in (None, owner):
        return None
    return prepare_delete(resource.resource_type, resource.resource_id, current, now, owner)


def provenance_of_writes(provenance: dict[str, Any], writes: list[PendingWrite], now: int, source: str | None,
                         owner: str | None) -> PendingWrite:
    """A new Provenance like the message's own (`provenance`), naming every version in `writes`."""
    record = dict(provenance, target=[{"reference": f"{w.resource_type}/{w.resource_id}/_history/{w.version}"}
                                      for w in writes])
    record.pop("id", None)
    return prepare_write(sourced(record, source), resource_id=new_id(), current=None, now_us=now, source=source,
                         institution=owner)


def persist_recorded(uow: UnitOfWork, writes: list[PendingWrite | None], *, provenance: dict[str, Any] | None, now: int,
                     source: str | None, owner: str | None) -> int:
    """Persist `writes` (None: a rewrite left out) with a Provenance naming them (when the message has one);
    the versions written."""
    recorded = [write for write in writes if write is not None]
    if not recorded:
        return 0
    if provenance is not None:
        recorded.append(provenance_of_writes(provenance, recorded, now, source, owner))
    persist(uow, recorded)
    return len(recorded)
