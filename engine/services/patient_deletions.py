"""Patient deletions (HL7 ADT A29): a person's record registered in error goes, unless records still name it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidResource, Issue
from engine.services.conditional import match_conditional
from engine.services.follow_up_writes import (MAX_NAMED, delete_unchanged, persist_recorded, rewrite_unchanged,
                                              sourced)
from engine.services.merges import KEEPS_ITS_PAST
from engine.services.writes import Clock, references_in
from engine.store.model import PendingWrite, StoredResource
from engine.store.ports import UnitOfWork

# what a registration (A28) records about the person besides the Patient: it goes with the person
REGISTRATION = ("RelatedPerson", "Coverage", "AllergyIntolerance", "Account")
VOID_VISIT = ("cancelled", "entered-in-error")


class PatientStillReferenced(InvalidResource):
    """A patient to delete is still named by other records (or several patients match)."""

    issue_code = "conflict"


@dataclass(frozen=True)
class PatientDeletion:
    """Delete the patient `patient_query` names (the message carried it in `field`)."""

    patient_query: str
    field: str = "PID-3"


def delete_patient(uow: UnitOfWork, deletion: PatientDeletion, *, clock: Clock, source: str | None = None,
                   owner: str | None = None, provenance: dict[str, Any] | None = None) -> int:
    """Delete the patient with what its registration recorded about it alone (next of kin, coverage, allergies,
    accounts) and its visits that never happened (cancelled, entered in error); other patients' `seealso`
    links to it go too. Deleted versions keep the history readable.

    Nothing to do when no live patient matches (never known, or deleted before). Refused while any other
    record names the patient (visits, results, another patient's coverage or account, any record of another
    institution, a merge): those would point at nobody; they must be merged (A40) or moved (A45) first. The lookup locks the patient's criteria, as every feed message about the
    patient does, so no such record is added meanwhile. Returns the versions written.
    """
    patients = [m for m in match_conditional(uow, "Patient", deletion.patient_query, owner=owner, for_write=True,
                                             limit=MAX_NAMED) if not m.deleted]
    if not patients:
        return 0
    if len(patients) > 1:
        raise PatientStillReferenced("The patient to delete is not known uniquely", issues=[
            Issue("multiple-matches", f"{deletion.field} names more than one patient", deletion.field)])
    patient = patients[0]
    if any(link.get("type") == "replaced-by" for link in (patient.body or {}).get("link") or []):
        raise PatientStillReferenced("The patient to delete was merged into another", issues=[Issue(
            "conflict", "the patient was merged into another (A40); its records live on there", deletion.field)])
    now = clock()
    writes: list[PendingWrite | None] = [delete_unchanged(uow, patient, now, owner)]
    naming = [r for r in uow.referencing(None, None, [patient])
              if r.key != patient.key and not r.deleted and r.resource_type not in KEEPS_ITS_PAST]
    gone, unlinked, blocking = [], [], set()
    for record in naming:
        current = uow.current(record.resource_type, record.resource_id)
        if owner is not None and current is not None and current.institution not in (None, owner):
            blocking.add(f"{record.resource_type} of another institution")
        elif _only_see_also(record, patient.key):
            unlinked.append(record)
        elif _registered_alone(record, patient.key):
            gone.append(record)
        else:
            blocking.add(record.resource_type)
    if blocking:
        raise PatientStillReferenced("The patient to delete is still named by other records", issues=[Issue(
            "conflict", f"the patient still has records ({', '.join(sorted(blocking)[:5])}); merge (A40) or move "
            "them first", deletion.field)])
    writes += [delete_unchanged(uow, record, now, owner) for record in gone]
    for record in unlinked:  # another record of the person linked to this one: the link goes
        body = sourced(record.body or {}, source)
        body["link"] = [link for link in body.get("link") or []
                        if (link.get("other") or {}).get("reference") != patient.key]
        if not body["link"]:
            del body["link"]
        writes.append(rewrite_unchanged(uow, record, body, now, source, owner))
    return persist_recorded(uow, writes, provenance=provenance, now=now, source=source, owner=owner)


def _registered_alone(record: StoredResource, patient: str) -> bool:
    """Whether `record` is what a registration records about this patient alone (no other patient named), or
    a visit that never happened (cancelled, entered in error): it goes with the person."""
    kind = record.resource_type
    if kind not in REGISTRATION and not (kind == "Encounter" and (record.body or {}).get("status") in VOID_VISIT):
        return False
    named = {ref["reference"] for ref in references_in(record.body or {})
             if ref["reference"].startswith("Patient/")}
    return named == {patient}


def _only_see_also(record: StoredResource, patient: str) -> bool:
    """Whether `record` is a Patient naming `patient` only in `seealso` links."""
    if record.resource_type != "Patient" or record.body is None:
        return False
    links = [link for link in record.body.get("link") or [] if (link.get("other") or {}).get("reference") == patient]
    return bool(links) and all(link.get("type") == "seealso" for link in links)
