"""Patient merges (HL7 ADT A40/A34/A39): the survivor keeps everything, references move to it."""
from __future__ import annotations

from typing import Any

from engine.errors import InvalidResource, Issue
from engine.fhir.references import parse_reference
from engine.services.conditional import match_conditional
from engine.services.feed_updates import follow_merges
from engine.services.writes import Clock, new_id, persist, prepare_write, references_in
from engine.store.model import PendingWrite, StoredResource
from engine.store.ports import UnitOfWork


KEEPS_ITS_PAST = ("Provenance", "AuditEvent")


class UnknownMergeTarget(InvalidResource):
    """The patient to be merged away is not known."""

    issue_code = "not-found"


def merge_patients(uow: UnitOfWork, *, survivor_query: str, merged_query: str, clock: Clock,
                   source: str | None, owner: str | None = None,
                   provenance: dict[str, Any] | None = None) -> int:
    """Merge the patient matching `merged_query` into the one matching `survivor_query`; return versions written.

    With `owner`, only that institution's patients are merged. Both sides follow earlier merges to their
    survivors. The merged Patient stays readable, inactive, with `link` type `replaced-by`; the survivor
    gets a `replaces` link; every reference to the merged Patient is rewritten to the survivor, except the
    record of the past (Provenance, AuditEvent) and other Patients' links. With `provenance` (the message's
    Provenance), one more Provenance names every version the merge wrote.
    """
    survivors = follow_merges(uow, match_conditional(uow, "Patient", survivor_query, owner=owner))
    merged = follow_merges(uow, match_conditional(uow, "Patient", merged_query, owner=owner))
    if len(survivors) != 1:
        raise UnknownMergeTarget("The surviving patient is not known uniquely",
                                 issues=[Issue("not-found", "surviving patient not found (PID-3)", "PID-3")])
    if len(merged) != 1:
        raise UnknownMergeTarget("The patient to merge is not known uniquely",
                                 issues=[Issue("not-found", "patient to merge not found (MRG-1)", "MRG-1")])
    survivor, old = survivors[0], merged[0]
    if survivor.key == old.key:
        return 0
    now = clock()
    writes: list[PendingWrite] = []
    writes.append(_relinked(uow, old, survivor.key, "replaced-by", now, source, deactivate=True))
    writes.append(_relinked(uow, survivor, old.key, "replaces", now, source, deactivate=False))
    for resource in uow.referencing(None, None, [old]):
        if (resource.key in (old.key, survivor.key) or resource.body is None
                or resource.resource_type in KEEPS_ITS_PAST):
            continue
        body = _sourced(resource.body, source)
        if _move_references(body, old, survivor.key):
            current = uow.current(resource.resource_type, resource.resource_id, for_update=True)
            writes.append(prepare_write(body, resource_id=resource.resource_id, current=current, now_us=now,
                                        source=source))
    if provenance is not None:
        record = dict(provenance, target=[{"reference": f"{w.resource_type}/{w.resource_id}/_history/{w.version}"}
                                          for w in writes])
        record.pop("id", None)
        writes.append(prepare_write(_sourced(record, source), resource_id=new_id(), current=None, now_us=now,
                                    source=source, institution=owner))
    persist(uow, writes)
    return len(writes)


def _move_references(body: dict[str, Any], old: StoredResource, survivor: str) -> bool:
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
            moved = True
    return moved


def _sourced(body: dict[str, Any], source: str | None) -> dict[str, Any]:
    """A copy of `body` whose meta.source names the writer of the new version."""
    copied = dict(body)
    meta = {k: v for k, v in (copied.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    if source:
        meta["source"] = source
    copied["meta"] = meta
    return copied


def _relinked(uow: UnitOfWork, patient: StoredResource, other: str, link_type: str, now: int,
              source: str | None, *, deactivate: bool) -> PendingWrite:
    body: dict[str, Any] = _sourced(patient.body or {}, source)
    links = [link for link in body.get("link", []) if link.get("other", {}).get("reference") != other]
    links.append({"other": {"reference": other}, "type": link_type})
    body["link"] = links
    if deactivate:
        body["active"] = False
    current = uow.current("Patient", patient.resource_id, for_update=True)
    return prepare_write(body, resource_id=patient.resource_id, current=current, now_us=now, source=source)
