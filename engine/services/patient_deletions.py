"""Patient deletions (HL7 ADT A29): a person's record registered in error goes, unless records still name it."""
from __future__ import annotations

from dataclasses import dataclass

from engine.errors import InvalidResource, Issue, VersionConflict
from engine.services.conditional import match_conditional
from engine.services.merges import KEEPS_ITS_PAST, MAX_MERGE_MATCHES
from engine.services.writes import Clock, persist, prepare_delete
from engine.store.ports import UnitOfWork


class PatientStillReferenced(InvalidResource):
    """A patient to delete is still named by other records (or several patients match)."""

    issue_code = "conflict"


@dataclass(frozen=True)
class PatientDeletion:
    """Delete the patient `patient_query` names (the message carried it in `field`)."""

    patient_query: str
    field: str = "PID-3"


def delete_patient(uow: UnitOfWork, deletion: PatientDeletion, *, clock: Clock, owner: str | None = None) -> int:
    """Delete the patient (a new, deleted version: its history stays readable); the versions written.

    Nothing to do when no live patient matches (never known, or deleted before). Refused while any record
    other than the record of the past (Provenance, AuditEvent) names the patient: those records would point
    at nobody; they must be merged (A40) or moved (A45) first.
    """
    patients = [m for m in match_conditional(uow, "Patient", deletion.patient_query, owner=owner,
                                             limit=MAX_MERGE_MATCHES) if not m.deleted]
    if not patients:
        return 0
    if len(patients) > 1:
        raise PatientStillReferenced("The patient to delete is not known uniquely", issues=[
            Issue("multiple-matches", f"{deletion.field} names more than one patient", deletion.field)])
    patient = patients[0]
    naming = sorted({r.resource_type for r in uow.referencing(None, None, [patient])
                     if r.key != patient.key and not r.deleted and r.resource_type not in KEEPS_ITS_PAST})
    if naming:
        raise PatientStillReferenced("The patient to delete is still named by other records", issues=[Issue(
            "conflict", f"the patient still has records ({', '.join(naming[:5])}); merge (A40) or move them "
            "first", deletion.field)])
    current = uow.current("Patient", patient.resource_id, for_update=True)
    if current is None or current.version != patient.version:  # written meanwhile: the caller looks up again
        raise VersionConflict(f"{patient.key} changed while it was being deleted")
    persist(uow, [prepare_delete("Patient", patient.resource_id, current, clock(), owner)])
    return 1
