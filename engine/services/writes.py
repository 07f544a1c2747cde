"""Turn a validated resource into a new stored version: id, meta, index rows, referential checks."""
from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from engine.errors import Forbidden, Issue, ReferenceNotResolved, ResourceNotFound
from engine.fhir.dates import format_instant
from engine.fhir.references import is_placeholder, parse_reference
from engine.fhir.validation import validate_resource
from engine.search.extraction import extract
from engine.search.parsing import parse_clause
from engine.search.query import SearchQuery
from engine.security.consent import sharing_rules
from engine.security.labels import compartment_patient, sensitivity_label
from engine.store.model import CurrentVersion, PendingWrite
from engine.store.ports import UnitOfWork

Clock = Callable[[], int]


_ID_BATCH = 256
_ids = threading.local()


def _reset_ids() -> None:
    global _ids
    _ids = threading.local()  # a forked child must never hand out its parent's ids


os.register_at_fork(after_in_child=_reset_ids)


def new_id() -> str:
    """A fresh server-assigned resource id (a random UUID).

    Random bytes are drawn from the OS for many ids at once: each draw lets other threads take the
    interpreter, which a Bundle of a hundred new resources would otherwise do a hundred times.
    """
    pool = getattr(_ids, "pool", None)
    if not pool:
        raw = os.urandom(16 * _ID_BATCH)
        pool = _ids.pool = [raw[i:i + 16] for i in range(0, len(raw), 16)]
    return str(uuid.UUID(bytes=pool.pop(), version=4))


def check_owner(resource_type: str, resource_id: str, current: CurrentVersion | None,
                institution: str | None) -> None:
    """Writes only go to the caller's own institution; another's resource answers as if absent."""
    if current is not None and institution is not None and current.institution not in (None, institution):
        raise ResourceNotFound(f"{resource_type}/{resource_id} is not known")


def repeats_stored(resource: dict[str, Any], stored: dict[str, Any] | None, resource_id: str,
                   source: str | None) -> bool:
    """True when writing `resource` would only repeat the stored version (the server's meta stamps aside)."""
    if stored is None:
        return False
    stamps = ("versionId", "lastUpdated")
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in stamps}
    if source and not meta.get("source"):
        meta["source"] = source
    if meta != {k: v for k, v in (stored.get("meta") or {}).items() if k not in stamps}:
        return False
    new = {k: v for k, v in resource.items() if k != "meta"}
    new["id"] = resource_id
    return new == {k: v for k, v in stored.items() if k != "meta"}


def prepare_write(resource: dict[str, Any], *, resource_id: str, current: CurrentVersion | None,
                  now_us: int, source: str | None, institution: str | None = None,
                  patient_context: str | None = None) -> PendingWrite:
    """Validate `resource`, stamp id and meta, and extract its index rows into a PendingWrite.

    `institution` is the writer's; an existing resource keeps its owner (and must be the writer's).
    """
    body = dict(resource)
    body["id"] = resource_id
    resource_type = validate_resource(body)
    version = current.version + 1 if current else 1
    meta = dict(body.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = format_instant(now_us)
    if source and not meta.get("source"):
        meta["source"] = source
    body["meta"] = meta
    check_owner(resource_type, resource_id, current, institution)
    index = extract(resource_type, body)
    patient = compartment_patient(resource_type, resource_id, index)
    if patient_context is not None and patient != patient_context:
        raise Forbidden("A patient-context token may only write into its own patient's compartment",
                        issues=[Issue("forbidden", "outside the token's patient compartment", resource_type)])
    return PendingWrite(
        resource_type=resource_type, resource_id=resource_id, version=version, last_updated_us=now_us,
        method="update" if current else "create", body=body, source=meta.get("source"),
        pid=current.pid if current else None, index=index,
        institution=(current.institution if current and current.institution else institution),
        patient=patient, sensitivity=sensitivity_label(body))


def prepare_delete(resource_type: str, resource_id: str, current: CurrentVersion, now_us: int,
                   institution: str | None = None) -> PendingWrite:
    """A new version that marks the resource deleted (only by its own institution)."""
    check_owner(resource_type, resource_id, current, institution)
    return PendingWrite(resource_type=resource_type, resource_id=resource_id, version=current.version + 1,
                        last_updated_us=now_us, method="delete", body=None, pid=current.pid,
                        institution=current.institution)


def persist(uow: UnitOfWork, writes: list[PendingWrite]) -> None:
    """Save writes; when Consents changed, rebuild their patients' sharing rules in the same transaction."""
    uow.save(writes)
    patients = set()
    for write in writes:
        if write.resource_type == "Consent":
            patients.add(write.patient)
            if write.deleted:  # a deleted Consent has no body: find its patient from the previous version
                previous = uow.read("Consent", write.resource_id, write.version - 1)
                if previous and previous.body:
                    patients.add(_consent_patient(previous.body))
    for patient in patients - {None}:
        query = SearchQuery(resource_type="Consent", count=1000, total="none")
        query.clauses.append(parse_clause("Consent", "patient", f"Patient/{patient}"))
        consents = [stored.body for stored in uow.search(query).items if stored.body]
        uow.replace_consent_rules(patient, sharing_rules(consents))


def _consent_patient(body: dict[str, Any]) -> str | None:
    reference = (body.get("patient") or {}).get("reference", "")
    parsed = parse_reference(reference) if isinstance(reference, str) else None
    return parsed.resource_id if parsed and parsed.resource_type == "Patient" else None


_CONTAINERS = (dict, list)


def references_in(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Reference-shaped dict (one with a string `reference`) in a resource, contained ones excluded."""
    found: list[dict[str, Any]] = []
    stack: list[Any] = [resource]
    pop, push = stack.pop, stack.append
    while stack:
        value = pop()
        if isinstance(value, dict):
            if isinstance(value.get("reference"), str):
                found.append(value)
            for key, item in value.items():
                if isinstance(item, _CONTAINERS) and key != "contained":
                    push(item)
        else:
            for item in value:
                if isinstance(item, _CONTAINERS):
                    push(item)
    return found


def path_to(resource: Any, target: Any, path: str) -> str | None:
    """The FHIRPath-like location of `target` (by identity) inside `resource`; for error messages."""
    if resource is target:
        return path
    if isinstance(resource, dict):
        for key, item in resource.items():
            if isinstance(item, (dict, list)) and (found := path_to(item, target, f"{path}.{key}")):
                return found
    elif isinstance(resource, list):
        for index, item in enumerate(resource):
            if isinstance(item, (dict, list)) and (found := path_to(item, target, f"{path}[{index}]")):
                return found
    return None


def check_references_exist(uow: UnitOfWork, writes: list[PendingWrite], created: set[tuple[str, str]], *,
                           require_targets: bool = True, removed: set[tuple[str, str]] = frozenset()) -> None:
    """Raise ReferenceNotResolved for a placeholder left unresolved or (when required) a missing target.

    Targets in `removed` (deleted by the same transaction) count as missing.
    """
    wanted: dict[tuple[str, str], tuple[PendingWrite, dict[str, Any]]] = {}
    for write in writes:
        if write.body is None:
            continue
        for reference in write.references if write.references is not None else references_in(write.body):
            text = reference["reference"]
            if is_placeholder(text):
                path = path_to(write.body, reference, write.resource_type)
                error = ReferenceNotResolved(f"{path}: '{text[:80]}' does not resolve", issues=[
                    Issue("not-found", f"Reference '{text[:80]}' does not resolve to any resource", path)])
                error.subject = write
                raise error
            parsed = parse_reference(text) if require_targets else None
            if parsed is None or parsed.base_url is not None:
                continue
            key = (parsed.resource_type, parsed.resource_id)
            if key not in created:
                wanted.setdefault(key, (write, reference))
    if not wanted:
        return
    found = {(r.resource_type, r.resource_id) for r in uow.read_many(wanted)} - set(removed)
    missing = [(key, write, reference) for key, (write, reference) in wanted.items() if key not in found]
    if missing:
        issues = [Issue("not-found", f"Reference '{key[0]}/{key[1]}' points at no existing resource",
                        path_to(write.body, reference, write.resource_type)) for key, write, reference in missing[:20]]
        error = ReferenceNotResolved(issues[0].diagnostics, issues=issues)
        error.subject = missing[0][1]
        raise error


def copy_resource(resource: dict[str, Any]) -> dict[str, Any]:
    """A deep copy, so the caller's object is never mutated."""
    return orjson.loads(orjson.dumps(resource))
