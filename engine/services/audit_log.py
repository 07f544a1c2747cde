"""Append AuditEvents to the store (their own small transaction, after the access they record)."""
from __future__ import annotations

from typing import Any

from engine.services.writes import Clock, new_id, persist, prepare_write
from engine.store.ports import ResourceStore


class AuditLog:
    """Writes AuditEvents; they are never updated or deleted through the API."""

    def __init__(self, store: ResourceStore, clock: Clock):
        self.store = store
        self.clock = clock

    def record(self, event: dict[str, Any], *, institution: str | None) -> None:
        """Store one AuditEvent owned by the caller's institution."""
        with self.store.unit_of_work() as uow:
            write = prepare_write(event, resource_id=new_id(), current=None, now_us=self.clock(),
                                  source="urn:tessera:audit", institution=institution)
            persist(uow, [write])
            uow.commit()
