"""Account merges (HL7 ADT A41): the surviving account takes over what named the merged one, which is closed."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import Issue
from engine.services.conditional import match_conditional
from engine.services.follow_up_writes import patients_named, persist_recorded, rewrite_unchanged, sourced
from engine.services.merges import KEEPS_ITS_PAST, UnknownMergeTarget, move_references
from engine.services.writes import Clock
from engine.store.model import PendingWrite, StoredResource
from engine.store.ports import UnitOfWork


@dataclass(frozen=True)
class AccountMerge:
    """Merge the Account `merged_query` names into the one `survivor_query` names."""

    survivor_query: str
    merged_query: str
    survivor_field: str = "PID-18"
    merged_field: str = "MRG-3"
    patient_query: str = ""  # when given, both accounts must name this patient (or one merged into it)


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
    if merge.patient_query:
        patients = patients_named(uow, merge.patient_query, owner)
        for account, field in ((survivor, merge.survivor_field), (old, merge.merged_field)):
            if not {ref.get("reference") for ref in (account.body or {}).get("subject") or []} & patients:
                raise UnknownMergeTarget("An account to merge is another patient's", issues=[
                    Issue("conflict", f"the account {field} names is not this patient's (PID-3)", field)])
    now = clock()
    writes: list[PendingWrite] = []
    if (old.body or {}).get("status") != "inactive":
        writes.append(rewrite_unchanged(uow, old, dict(sourced(old.body or {}, source), status="inactive"), now,
                                        source))
    for resource in uow.referencing(None, None, [old]):
        if resource.key in (old.key, survivor.key) or resource.body is None or resource.resource_type in KEEPS_ITS_PAST:
            continue
        body = sourced(resource.body, source)
        if move_references(body, old, survivor.key):
            writes.append(rewrite_unchanged(uow, resource, body, now, source, owner))
    return persist_recorded(uow, writes, provenance=provenance, now=now, source=source, owner=owner)


def _live(uow: UnitOfWork, query: str, owner: str | None) -> list[StoredResource]:
    return [m for m in match_conditional(uow, "Account", query, owner=owner) if not m.deleted and m.body is not None]
