"""Writes a feed message makes beyond its own Bundle (merges, corrections, moves): sourced, checked, recorded."""
from __future__ import annotations

from typing import Any

from engine.errors import VersionConflict
from engine.services.writes import new_id, persist, prepare_write
from engine.store.model import PendingWrite, StoredResource
from engine.store.ports import UnitOfWork


def sourced(body: dict[str, Any], source: str | None) -> dict[str, Any]:
    """A copy of `body` whose meta.source names the writer of the new version."""
    copied = dict(body)
    meta = {k: v for k, v in (copied.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    if source:
        meta["source"] = source
    copied["meta"] = meta
    return copied


def rewrite_unchanged(uow: UnitOfWork, resource: StoredResource, body: dict[str, Any], now: int,
                      source: str | None) -> PendingWrite:
    """A new version of `resource` holding `body`, locked; VersionConflict when it was written since it was read
    (the feed then looks everything up again)."""
    current = uow.current(resource.resource_type, resource.resource_id, for_update=True)
    if current is None or current.version != resource.version:
        raise VersionConflict(f"{resource.key} changed while a message was rewriting it")
    return prepare_write(body, resource_id=resource.resource_id, current=current, now_us=now, source=source)


def provenance_of_writes(provenance: dict[str, Any], writes: list[PendingWrite], now: int, source: str | None,
                         owner: str | None) -> PendingWrite:
    """A new Provenance like the message's own (`provenance`), naming every version in `writes`."""
    record = dict(provenance, target=[{"reference": f"{w.resource_type}/{w.resource_id}/_history/{w.version}"}
                                      for w in writes])
    record.pop("id", None)
    return prepare_write(sourced(record, source), resource_id=new_id(), current=None, now_us=now, source=source,
                         institution=owner)


def persist_recorded(uow: UnitOfWork, writes: list[PendingWrite], *, provenance: dict[str, Any] | None, now: int,
                     source: str | None, owner: str | None) -> int:
    """Persist `writes` with a Provenance naming them (when the message has one); the versions written."""
    if not writes:
        return 0
    if provenance is not None:
        writes = [*writes, provenance_of_writes(provenance, writes, now, source, owner)]
    persist(uow, writes)
    return len(writes)
