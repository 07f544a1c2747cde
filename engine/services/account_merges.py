"""Account merges (HL7 ADT A41): the surviving account takes over what named the merged one, which is closed."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import Issue, VersionConflict
from engine.services.conditional import match_conditional
from engine.services.merges import KEEPS_ITS_PAST, UnknownMergeTarget, move_references, provenance_of_writes, sourced
from engine.services.writes import Clock, persist, prepare_write
from engine.store.model import PendingWrite, StoredResource
from engine.store.ports import UnitOfWork


@dataclass(frozen=True)
class AccountMerge:
    """Merge the Account `merged_query` names into the one `survivor_query` names."""

    survivor_query: str
    merged_query: str
    survivor_field: str = "PID-18"
    merged_field: str = "MRG-3"


def merge_accounts(uow: UnitOfWork, merge: AccountMerge, *, clock: Clock, source: str | None,
                   owner: str | None = None, provenance: dict[str, Any] | None = None) -> int:
    """Apply one account merge after the message's own writes; the versions written.

    Every reference to the merged Account (charges, visits) moves to the survivor, except the record of the
    past; the merged Account becomes `inactive`. A merge sent again finds nothing left to change.
    """
    survivors = _live(uow, merge.survivor_query, owner)
    if len(survivors) != 1:
        raise UnknownMergeTarget("The surviving account is not known uniquely", issues=[
            Issue("not-found", f"surviving account not found ({merge.survivor_field})", merge.survivor_field)])
    survivor = survivors[0]
    merged = [account for account in _live(uow, merge.merged_query, owner) if account.key != survivor.key]
    if not merged:
        return 0  # never reached us, or the message names the survivor itself
    if len(merged) > 1:
        raise UnknownMergeTarget("The account to merge is not known uniquely", issues=[
            Issue("multiple-matches", f"{merge.merged_field} names more than one account", merge.merged_field)])
    old = merged[0]
    now = clock()
    writes: list[PendingWrite] = []
    if (old.body or {}).get("status") != "inactive":
        writes.append(_write(uow, old, dict(sourced(old.body or {}, source), status="inactive"), now, source))
    for resource in uow.referencing(None, None, [old]):
        if resource.key in (old.key, survivor.key) or resource.body is None or resource.resource_type in KEEPS_ITS_PAST:
            continue
        body = sourced(resource.body, source)
        if move_references(body, old, survivor.key):
            writes.append(_write(uow, resource, body, now, source))
    if not writes:
        return 0
    if provenance is not None:
        writes.append(provenance_of_writes(provenance, writes, now, source, owner))
    persist(uow, writes)
    return len(writes)


def _live(uow: UnitOfWork, query: str, owner: str | None) -> list[StoredResource]:
    return [m for m in match_conditional(uow, "Account", query, owner=owner) if not m.deleted and m.body is not None]


def _write(uow: UnitOfWork, resource: StoredResource, body: dict[str, Any], now: int,
           source: str | None) -> PendingWrite:
    current = uow.current(resource.resource_type, resource.resource_id, for_update=True)
    if current is None or current.version != resource.version:  # written meanwhile: the caller looks up again
        raise VersionConflict(f"{resource.key} changed while its account was being merged")
    return prepare_write(body, resource_id=resource.resource_id, current=current, now_us=now, source=source)
