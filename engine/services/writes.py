"""Turn a validated resource into a new stored version: id, meta, index rows, referential checks."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson

from engine.errors import Issue, ReferenceNotResolved
from engine.fhir.dates import format_instant
from engine.fhir.references import is_placeholder, parse_reference
from engine.fhir.validation import validate_resource
from engine.search.extraction import extract
from engine.store.model import CurrentVersion, PendingWrite
from engine.store.ports import UnitOfWork

Clock = Callable[[], int]


def new_id() -> str:
    """A fresh server-assigned resource id."""
    return str(uuid.uuid4())


def prepare_write(resource: dict[str, Any], *, resource_id: str, current: CurrentVersion | None,
                  now_us: int, source: str | None) -> PendingWrite:
    """Validate `resource`, stamp id and meta, and extract its index rows into a PendingWrite."""
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
    return PendingWrite(
        resource_type=resource_type, resource_id=resource_id, version=version, last_updated_us=now_us,
        method="update" if current else "create", body=body, source=meta.get("source"),
        pid=current.pid if current else None, index=extract(resource_type, body))


def prepare_delete(resource_type: str, resource_id: str, current: CurrentVersion, now_us: int) -> PendingWrite:
    """A new version that marks the resource deleted."""
    return PendingWrite(resource_type=resource_type, resource_id=resource_id, version=current.version + 1,
                        last_updated_us=now_us, method="delete", body=None, pid=current.pid)


def references_in(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Reference-shaped dict (one with a string `reference`) in a resource, contained ones excluded."""
    found: list[dict[str, Any]] = []
    stack: list[Any] = [resource]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if isinstance(value.get("reference"), str):
                found.append(value)
            for key, item in value.items():
                if isinstance(item, (dict, list)) and key != "contained":
                    stack.append(item)
        else:
            stack.extend(item for item in value if isinstance(item, (dict, list)))
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
                           require_targets: bool = True) -> None:
    """Raise ReferenceNotResolved for a placeholder left unresolved or (when required) a missing target."""
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
    found = {(r.resource_type, r.resource_id) for r in uow.read_many(wanted)}
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
