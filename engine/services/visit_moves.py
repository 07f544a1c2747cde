"""Visit moves (HL7 ADT A45): a visit recorded under the wrong patient moves, and what was recorded in it follows."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidResource, Issue
from engine.fhir.references import parse_reference
from engine.services.conditional import match_conditional
from engine.services.feed_updates import follow_merges
from engine.services.follow_up_writes import patients_named, persist_recorded, rewrite_unchanged, sourced
from engine.services.merges import KEEPS_ITS_PAST, MAX_MERGE_MATCHES, move_references
from engine.services.writes import Clock
from engine.store.model import PendingWrite
from engine.store.ports import UnitOfWork


class VisitMoveConflict(InvalidResource):
    """The visit to move belongs to neither the previous nor the new patient."""

    issue_code = "conflict"


@dataclass(frozen=True)
class VisitMove:
    """The Encounter `visit_query` names now belongs to its current subject; what was recorded in it about the
    patient `from_patient_query` names (its previous patient) moves to that subject too. `old_visit_query`
    names the visit by its previous number, `to_patient_query` the new patient (for the check before)."""

    visit_query: str
    from_patient_query: str
    to_patient_query: str = ""
    old_visit_query: str | None = None


def check_visit_move(uow: UnitOfWork, move: VisitMove, *, owner: str | None = None) -> None:
    """Before the message's writes: refuse a move of a visit that belongs to neither patient (a wrong MRG-1)."""
    allowed = patients_named(uow, move.from_patient_query, owner) | (
        patients_named(uow, move.to_patient_query, owner) if move.to_patient_query else set())
    for query in (move.old_visit_query, move.visit_query):
        for visit in (match_conditional(uow, "Encounter", query, owner=owner) if query else []):
            subject = ((visit.body or {}).get("subject") or {}).get("reference")
            if not visit.deleted and subject not in allowed:
                raise VisitMoveConflict("The visit to move belongs to another patient", issues=[Issue(
                    "conflict", "the visit (MRG-5, PV1-19) belongs to neither the MRG-1 nor the PID-3 patient",
                    "MRG-1")])


def move_visit(uow: UnitOfWork, move: VisitMove, *, clock: Clock, source: str | None, owner: str | None = None,
               provenance: dict[str, Any] | None = None) -> int:
    """Apply one visit move after the message's own writes (which gave the Encounter its new subject).

    Every resource referencing the Encounter that also references the previous patient is rewritten to the
    new one; the record of the past (Provenance, AuditEvent) is left as it was. Returns the versions written.
    """
    visits = [m for m in match_conditional(uow, "Encounter", move.visit_query, owner=owner)
              if not m.deleted and m.body is not None]
    if len(visits) != 1:
        return 0
    visit = visits[0]
    subject = parse_reference(((visit.body or {}).get("subject") or {}).get("reference", ""))
    if subject is None or subject.resource_type != "Patient":
        return 0
    new_patient = f"Patient/{subject.resource_id}"
    named = match_conditional(uow, "Patient", move.from_patient_query, owner=owner, limit=MAX_MERGE_MATCHES)
    previous = [p for p in {p.key: p for p in named + follow_merges(uow, named)}.values() if p.key != new_patient]
    if not previous:
        return 0
    now = clock()
    writes: list[PendingWrite] = []
    for resource in uow.referencing(None, None, [visit]):
        if resource.key == visit.key or resource.body is None or resource.resource_type in KEEPS_ITS_PAST:
            continue
        body = sourced(resource.body, source)
        if not any([move_references(body, old, new_patient) for old in previous]):
            continue
        writes.append(rewrite_unchanged(uow, resource, body, now, source, owner))
    return persist_recorded(uow, writes, provenance=provenance, now=now, source=source, owner=owner)
