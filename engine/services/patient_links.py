"""Patient links (HL7 ADT A24 link, A37 unlink): two records of one person say so (`seealso`), both ways."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import Issue
from engine.services.conditional import match_conditional
from engine.services.feed_updates import follow_merges
from engine.services.follow_up_writes import patients_named, persist_recorded, rewrite_unchanged, sourced
from engine.services.merges import UnknownMergeTarget
from engine.services.writes import Clock
from engine.store.model import PendingWrite, StoredResource
from engine.store.ports import UnitOfWork

SEE_ALSO = "seealso"


@dataclass(frozen=True)
class PatientLink:
    """Link (or, with `linked` false, unlink) the patients the two queries name."""

    first_query: str
    second_query: str
    linked: bool


def link_patients(uow: UnitOfWork, link: PatientLink, *, clock: Clock, source: str | None, owner: str | None = None,
                  provenance: dict[str, Any] | None = None) -> int:
    """Apply one link or unlink after the message's own writes; the versions written (none when already so)."""
    first = _one(uow, link.first_query, owner, "PID-3")
    second = _one(uow, link.second_query, owner, "PID-3")
    if first.key == second.key:
        return 0  # one record (the two were merged): nothing to link
    # each side's names: its record and those merged into it, so links made before a merge are found too
    names = {first.key: patients_named(uow, link.first_query, owner) | {first.key},
             second.key: patients_named(uow, link.second_query, owner) | {second.key}}
    now = clock()
    writes: list[PendingWrite | None] = []
    for patient, other in ((first, second), (second, first)):
        links = [item for item in (patient.body or {}).get("link") or []
                 if not (item.get("type") == SEE_ALSO
                         and (item.get("other") or {}).get("reference") in names[other.key])]
        if link.linked:
            links.append({"other": {"reference": other.key}, "type": SEE_ALSO})
        if links != ((patient.body or {}).get("link") or []):
            body = sourced(patient.body or {}, source)
            if links:
                body["link"] = links
            else:
                body.pop("link", None)
            writes.append(rewrite_unchanged(uow, patient, body, now, source, owner))
    return persist_recorded(uow, writes, provenance=provenance, now=now, source=source, owner=owner)


def _one(uow: UnitOfWork, query: str, owner: str | None, where: str) -> StoredResource:
    found = follow_merges(uow, [m for m in match_conditional(uow, "Patient", query, owner=owner)
                                if not m.deleted and m.body is not None])
    if len(found) != 1:
        raise UnknownMergeTarget("A patient to link is not known uniquely", issues=[
            Issue("not-found", f"patient to link not found uniquely ({where})", where)])
    return found[0]
