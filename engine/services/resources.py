"""Create, read, update and delete single resources, including conditional variants."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import (InvalidRequest, Issue, PreconditionFailed, ResourceGone, ResourceNotFound)
from engine.fhir.validation import ID_PATTERN, check_resource_type
from engine.services.conditional import ConditionalReferences, match_conditional
from engine.security.caller import SYSTEM, Caller
from engine.services.writes import (Clock, check_owner, check_references_exist, copy_resource, new_id, persist,
                                    prepare_delete, prepare_write, repeats_stored)
from engine.store.model import StoredResource
from engine.store.ports import ResourceStore, UnitOfWork


@dataclass(frozen=True)
class WriteOutcome:
    """The result of a write: the stored version and whether it created the resource."""

    stored: StoredResource | None
    created: bool
    changed: bool = True


def parse_etag(value: str) -> int:
    """The version number of an `If-Match` ETag such as `W/"3"`."""
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not (text.isascii() and text.isdigit()):
        raise InvalidRequest("If-Match must be an ETag such as W/\"3\"",
                             issues=[Issue("invalid", "malformed If-Match header", "If-Match")])
    return int(text)


class ResourceService:
    """Single-resource interactions over a store."""

    def __init__(self, store: ResourceStore, clock: Clock, *, referential_integrity: bool = True):
        self.store = store
        self.clock = clock
        self.referential_integrity = referential_integrity

    def read(self, resource_type: str, resource_id: str, version: int | None = None, *,
             caller: Caller = SYSTEM) -> StoredResource:
        """The current (or a given) version; raises ResourceNotFound (also when not visible) or ResourceGone."""
        check_resource_type({"resourceType": resource_type})
        with self.store.unit_of_work(read_only=True, visibility=caller.visibility) as uow:
            stored = uow.read(resource_type, resource_id, version)
        if stored is None:
            what = f"{resource_type}/{resource_id}" + (f"/_history/{version}" if version else "")
            raise ResourceNotFound(f"{what} is not known")
        if stored.deleted:
            raise ResourceGone(f"{resource_type}/{resource_id} was deleted (version {stored.version})")
        return stored

    def create(self, resource: dict[str, Any], *, source: str | None = None, if_none_exist: str | None = None,
               caller: Caller = SYSTEM) -> WriteOutcome:
        """Create with a server-assigned id; with If-None-Exist, return the match instead when one exists."""
        resource_type = check_resource_type(resource)
        with self.store.unit_of_work(visibility=caller.visibility) as uow:
            if if_none_exist:
                matches = match_conditional(uow, resource_type, if_none_exist, for_write=True,
                                            owner=caller.institution, others_if_none_owned=True)
                if len(matches) > 1:
                    raise PreconditionFailed("If-None-Exist matched more than one resource")
                if matches:
                    return WriteOutcome(matches[0], created=False, changed=False)
            resource = copy_resource(resource)
            found = ConditionalReferences(uow, owner=caller.institution).resolve_in(resource, resource_type)
            write = prepare_write(resource, resource_id=new_id(), current=None, now_us=self.clock(),
                                  source=source, institution=caller.institution,
                                    patient_context=caller.visibility.patient)
            write.references = found
            check_references_exist(uow, [write], {(write.resource_type, write.resource_id)},
                                   require_targets=self.referential_integrity)
            persist(uow, [write])
            uow.commit()
        return WriteOutcome(_as_stored(write), created=True)

    def update(self, resource_type: str, resource_id: str, resource: dict[str, Any], *,
               if_match: str | None = None, source: str | None = None, caller: Caller = SYSTEM) -> WriteOutcome:
        """Update (or create with the client's id); with If-Match, only when the version matches."""
        body_type = check_resource_type(resource)
        if body_type != resource_type:
            raise InvalidRequest(f"Body is a {body_type}, the URL names {resource_type}",
                                 issues=[Issue("invalid", "resourceType does not match the URL", "resourceType")])
        body_id = resource.get("id")
        if body_id != resource_id:
            raise InvalidRequest("The id in the body must match the id in the URL",
                                 issues=[Issue("invalid", f"id '{str(body_id)[:64]}' does not match the URL",
                                               f"{resource_type}.id")])
        if not ID_PATTERN.match(resource_id):
            raise InvalidRequest("Invalid id in the URL")
        with self.store.unit_of_work(visibility=caller.visibility) as uow:
            outcome = self._update_in(uow, resource_type, resource_id, resource, if_match, source, caller)
            uow.commit()
        return outcome

    def _update_in(self, uow: UnitOfWork, resource_type: str, resource_id: str, resource: dict[str, Any],
                   if_match: str | None, source: str | None, caller: Caller) -> WriteOutcome:
        current = uow.current(resource_type, resource_id, for_update=True)
        check_owner(resource_type, resource_id, current, caller.institution)
        if if_match is not None:
            expected = parse_etag(if_match)
            if current is None or current.version != expected:
                raise PreconditionFailed(
                    f"If-Match {if_match} does not match the current version "
                    f"({current.version if current else 'none'}) of {resource_type}/{resource_id}",
                    issues=[Issue("conflict", "version conflict", "If-Match")])
        resource = copy_resource(resource)
        found = ConditionalReferences(uow, owner=caller.institution).resolve_in(resource, resource_type)
        write = prepare_write(resource, resource_id=resource_id, current=current, now_us=self.clock(),
                              source=source, institution=caller.institution,
                              patient_context=caller.visibility.patient)  # validated and allowed first
        if current is not None and not current.deleted:
            stored = uow.read(resource_type, resource_id)
            if stored is not None and repeats_stored(resource, stored.body, resource_id, source):
                return WriteOutcome(stored, created=False, changed=False)  # a no-op update makes no new version
        write.references = found
        check_references_exist(uow, [write], {(resource_type, resource_id)},
                               require_targets=self.referential_integrity)
        persist(uow, [write])
        return WriteOutcome(_as_stored(write), created=current is None or current.deleted)

    def conditional_update(self, resource_type: str, query_text: str, resource: dict[str, Any], *,
                           source: str | None = None, caller: Caller = SYSTEM) -> WriteOutcome:
        """PUT Type?criteria: create when nothing matches, update the one match, 412 on several."""
        body_type = check_resource_type(resource)
        if body_type != resource_type:
            raise InvalidRequest(f"Body is a {body_type}, the URL names {resource_type}")
        with self.store.unit_of_work(visibility=caller.visibility) as uow:
            matches = match_conditional(uow, resource_type, query_text, for_write=True, owner=caller.institution)
            if len(matches) > 1:
                raise PreconditionFailed("The conditional update matched more than one resource")
            if matches:
                target_id = matches[0].resource_id
                if resource.get("id") not in (None, target_id):
                    raise InvalidRequest("The id in the body does not match the resource the criteria found")
            else:
                target_id = resource.get("id") or new_id()
            outcome = self._update_in(uow, resource_type, target_id, resource, None, source, caller)
            uow.commit()
        return outcome

    def delete(self, resource_type: str, resource_id: str, *, caller: Caller = SYSTEM) -> WriteOutcome:
        """Record a deletion as a new version; deleting a deleted resource changes nothing."""
        check_resource_type({"resourceType": resource_type})
        with self.store.unit_of_work(visibility=caller.visibility) as uow:
            current = uow.current(resource_type, resource_id, for_update=True)
            if current is None:
                raise ResourceNotFound(f"{resource_type}/{resource_id} is not known")
            check_owner(resource_type, resource_id, current, caller.institution)
            if current.deleted:
                return WriteOutcome(None, created=False, changed=False)
            write = prepare_delete(resource_type, resource_id, current, self.clock(), caller.institution)
            persist(uow, [write])
            uow.commit()
        return WriteOutcome(_as_stored(write), created=False)

    def conditional_delete(self, resource_type: str, query_text: str, *, caller: Caller = SYSTEM) -> WriteOutcome:
        """DELETE Type?criteria: delete the single match; 412 when several match."""
        check_resource_type({"resourceType": resource_type})
        with self.store.unit_of_work(visibility=caller.visibility) as uow:
            matches = match_conditional(uow, resource_type, query_text, owner=caller.institution)
        if len(matches) > 1:
            raise PreconditionFailed("The conditional delete matched more than one resource")
        if not matches:
            return WriteOutcome(None, created=False, changed=False)
        return self.delete(resource_type, matches[0].resource_id, caller=caller)


def _as_stored(write: Any) -> StoredResource:
    return StoredResource(write.resource_type, write.resource_id, write.version, write.last_updated_us,
                          write.deleted, write.method, write.body)
