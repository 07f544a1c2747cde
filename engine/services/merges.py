"""Patient merges (HL7 ADT A40/A34/A39): the survivor keeps everything, references move to it."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.errors import InvalidResource, Issue
from engine.fhir.references import parse_reference
from engine.services.conditional import match_conditional
from engine.services.feed_updates import current_survivor, follow_merges
from engine.services.follow_up_writes import MAX_NAMED, persist_recorded, sourced
from engine.services.writes import Clock, prepare_write, references_in
from engine.store.model import PendingWrite, StoredResource
from engine.store.ports import UnitOfWork


KEEPS_ITS_PAST = ("Provenance", "AuditEvent")
MAX_MERGE_MATCHES = MAX_NAMED  # patients one MRG-1 identifier may name (e.g. retired ones along a merge chain)


class UnknownMergeTarget(InvalidResource):
    """The patient to be merged away is not known."""

    issue_code = "not-found"


def merge_patients(uow: UnitOfWork, *, survivor_query: str, merged_queries: Sequence[str], clock: Clock,
                   source: str | None, owner: str | None = None,
                   provenance: dict[str, Any] | None = None) -> int:
    """Merge the patient `merged_queries` name into the one `survivor_query` names; the versions written.

    The first query is the merged patient's key; the others (its other prior identifiers) are tried in
    turn only while none names exactly one patient besides the survivor. With `owner`, only that
    institution's patients are merged. The survivor follows earlier merges to the last survivor; a
    patient merged away before is merged again only into that same survivor (nothing to do).
    The merged Patient stays readable, inactive, with `link` type `replaced-by`; the survivor
    gets a `replaces` link; every reference to the merged Patient is rewritten to the survivor, except the
    record of the past (Provenance, AuditEvent) and other Patients' links. With `provenance` (the message's
    Provenance), one more Provenance names every version the merge wrote.
    """
    survivors = follow_merges(uow, match_conditional(uow, "Patient", survivor_query, owner=owner))
    if len(survivors) != 1:
        raise UnknownMergeTarget("The surviving patient is not known uniquely",
                                 issues=[Issue("not-found", "surviving patient not found (PID-3)", "PID-3")])
    survivor = survivors[0]
    old = _merged_patient(uow, merged_queries, survivor, owner)
    if old is None:
        return 0
    now = clock()
    writes: list[PendingWrite] = []
    writes.append(_relinked(uow, old, survivor.key, "replaced-by", now, source, deactivate=True))
    writes.append(_relinked(uow, survivor, old.key, "replaces", now, source, deactivate=False))
    for resource in uow.referencing(None, None, [old]):
        if (resource.key in (old.key, survivor.key) or resource.body is None
                or resource.resource_type in KEEPS_ITS_PAST):
            continue
        body = sourced(resource.body, source)
        if move_references(body, old, survivor.key):
            current = uow.current(resource.resource_type, resource.resource_id, for_update=True)
            writes.append(prepare_write(body, resource_id=resource.resource_id, current=current, now_us=now,
                                        source=source))
    return persist_recorded(uow, writes, provenance=provenance, now=now, source=source, owner=owner)


def _merged_patient(uow: UnitOfWork, queries: Sequence[str], survivor: StoredResource,
                    owner: str | None) -> StoredResource | None:
    """The one patient the queries name besides the survivor; None when it was merged into it already."""
    for query in queries:
        matches = match_conditional(uow, "Patient", query, owner=owner, limit=MAX_MERGE_MATCHES)
        finals = {m.key: current_survivor(uow, m) for m in matches if m.key != survivor.key}
        live = [m for m in matches if m.key in finals and finals[m.key].key != survivor.key]
        if not live:
            if finals:
                return None  # every patient it names was merged into the survivor before (the message again)
            continue
        if len(live) > 1:
            raise UnknownMergeTarget("The patient to merge is not known uniquely", issues=[
                Issue("multiple-matches", "MRG-1 names more than one patient", "MRG-1")])
        old = live[0]
        if finals[old.key].key != old.key:
            raise UnknownMergeTarget("The patient to merge was merged into another patient before", issues=[
                Issue("conflict", f"MRG-1 patient was merged into {finals[old.key].key} before", "MRG-1")])
        return old
    raise UnknownMergeTarget("The patient to merge is not known",
                             issues=[Issue("not-found", "patient to merge not found (MRG-1)", "MRG-1")])


def move_references(body: dict[str, Any], old: StoredResource, survivor: str) -> bool:
    """Point every reference to `old` (relative, absolute or versioned) at `survivor`; links excepted."""
    links = {id((link.get("other") or {})) for link in body.get("link") or []} if body.get(
        "resourceType") == "Patient" else set()
    moved = False
    for reference in references_in(body):
        if id(reference) in links:
            continue
        parsed = parse_reference(reference["reference"])
        if parsed is not None and (parsed.resource_type, parsed.resource_id) == (old.resource_type,
                                                                                 old.resource_id):
            reference["reference"] = survivor
            reference.pop("display", None)  # it named the old target
            moved = True
    return moved


def _relinked(uow: UnitOfWork, patient: StoredResource, other: str, link_type: str, now: int,
              source: str | None, *, deactivate: bool) -> PendingWrite:
    body: dict[str, Any] = sourced(patient.body or {}, source)
    links = [link for link in body.get("link", []) if link.get("other", {}).get("reference") != other]
    links.append({"other": {"reference": other}, "type": link_type})
    body["link"] = links
    if deactivate:
        body["active"] = False
    current = uow.current("Patient", patient.resource_id, for_update=True)
    return prepare_write(body, resource_id=patient.resource_id, current=current, now_us=now, source=source)
