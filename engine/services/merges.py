"""Patient merges (HL7 ADT A40/A34/A39): the survivor keeps everything, references move to it."""
from __future__ import annotations

from typing import Any

from engine.errors import InvalidResource, Issue
from engine.services.conditional import match_conditional
from engine.services.writes import Clock, persist, prepare_write, references_in
from engine.store.model import PendingWrite, StoredResource
from engine.store.ports import UnitOfWork


class UnknownMergeTarget(InvalidResource):
    """The patient to be merged away is not known."""

    issue_code = "not-found"


def merge_patients(uow: UnitOfWork, *, survivor_query: str, merged_query: str, clock: Clock,
                   source: str | None, owner: str | None = None) -> int:
    """Merge the patient matching `merged_query` into the one matching `survivor_query`; return versions written.

    With `owner`, only that institution's patients are merged. The merged Patient stays readable, inactive,
    with `link` type `replaced-by`; the survivor gets a `replaces` link; every indexed reference to the merged
    Patient is rewritten to the survivor.
    """
    survivors = match_conditional(uow, "Patient", survivor_query, owner=owner)
    merged = match_conditional(uow, "Patient", merged_query, owner=owner)
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
        if resource.key in (old.key, survivor.key) or resource.body is None:
            continue
        body = resource.body
        moved = False
        for reference in references_in(body):
            if reference["reference"] == old.key:
                reference["reference"] = survivor.key
                moved = True
        if moved:
            current = uow.current(resource.resource_type, resource.resource_id, for_update=True)
            writes.append(prepare_write(body, resource_id=resource.resource_id, current=current, now_us=now,
                                        source=source))
    persist(uow, writes)
    return len(writes)


def _relinked(uow: UnitOfWork, patient: StoredResource, other: str, link_type: str, now: int,
              source: str | None, *, deactivate: bool) -> PendingWrite:
    body: dict[str, Any] = dict(patient.body or {})
    links = [link for link in body.get("link", []) if link.get("other", {}).get("reference") != other]
    links.append({"other": {"reference": other}, "type": link_type})
    body["link"] = links
    if deactivate:
        body["active"] = False
    current = uow.current("Patient", patient.resource_id, for_update=True)
    return prepare_write(body, resource_id=patient.resource_id, current=current, now_us=now, source=source)
