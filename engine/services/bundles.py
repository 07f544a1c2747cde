"""Batch and transaction Bundles: transactions all-or-nothing, batches entry by entry."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from engine.errors import (BundleEntryError, InvalidRequest, Issue, PreconditionFailed, ReferenceNotResolved,
                           ResourceNotFound, TesseraError, VersionConflict)
from engine.fhir.references import conditional_parts, parse_reference
from engine.fhir.validation import check_resource_type
from engine.services.conditional import (ConditionalReferences, Prefetched, match_conditional,
                                         prefetch_conditional)
from engine.services.feed_updates import FeedUpdates, current_survivor, follow_merges
from engine.services.presentation import etag, last_modified, operation_outcome
from engine.services.resources import ResourceService, WriteOutcome, parse_etag
from engine.services.search import SearchService
from engine.security.caller import SYSTEM, Caller
from engine.services.writes import (Clock, check_references_exist, new_id, persist, prepare_delete, prepare_write,
                                   references_in, repeats_stored)
from engine.store.model import CurrentVersion, PendingWrite, StoredResource
from engine.store.ports import ResourceStore, UnitOfWork

_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "GET": 3}
MAX_ENTRIES = 10_000


@dataclass
class _Entry:
    index: int
    method: str
    url: str
    resource: dict[str, Any] | None
    request: dict[str, Any]
    full_url: str | None
    resource_type: str = ""
    resource_id: str | None = None
    skip_write: bool = False
    status: str = ""
    write: PendingWrite | None = None
    existing: StoredResource | None = None  # what a conditional PUT matched
    references: list[dict[str, Any]] | None = None  # the resource's Reference dicts, once collected
    response: dict[str, Any] = field(default_factory=dict)


def _entries(bundle: dict[str, Any]) -> list[_Entry]:
    raw = bundle.get("entry", [])
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise InvalidRequest("Bundle.entry must be an array", issues=[Issue("structure", "not an array", "Bundle.entry")])
    if len(raw) > MAX_ENTRIES:
        raise InvalidRequest(f"A Bundle may hold at most {MAX_ENTRIES} entries")
    entries = []
    for index, item in enumerate(raw):
        path = f"Bundle.entry[{index}]"
        request = item.get("request") if isinstance(item, dict) else None
        if not isinstance(request, dict) or not isinstance(request.get("url"), str):
            raise InvalidRequest(f"{path}.request.url is required",
                                 issues=[Issue("required", "request.method and request.url are required", f"{path}.request")])
        method = str(request.get("method", "")).upper()
        if method not in _ORDER:
            raise InvalidRequest(f"{path}.request.method '{method[:10]}' is not supported",
                                 issues=[Issue("not-supported", f"method '{method[:10]}' is not supported",
                                               f"{path}.request.method")])
        resource = item.get("resource")
        if method in ("POST", "PUT") and not isinstance(resource, dict):
            raise InvalidRequest(f"{path}.resource is required for {method}",
                                 issues=[Issue("required", f"{method} needs a resource", f"{path}.resource")])
        entries.append(_Entry(index, method, request["url"].lstrip("/"), resource, request, item.get("fullUrl")))
    return entries


class BundleService:
    """Processes `batch` and `transaction` Bundles posted to the base URL."""

    def __init__(self, store: ResourceStore, clock: Clock, resources: ResourceService, search: SearchService):
        self.store = store
        self.clock = clock
        self.resources = resources
        self.search = search

    def process(self, bundle: Any, *, base_url: str, source: str | None = None,
                caller: Caller = SYSTEM) -> dict[str, Any]:
        """Run a batch or transaction Bundle and return the response Bundle.

        Takes ownership of `bundle`: its resources are rewritten in place (ids, references, meta).
        """
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise InvalidRequest("Expected a Bundle", issues=[Issue("invalid", "expected a Bundle", "resourceType")])
        kind = bundle.get("type")
        if kind not in ("transaction", "batch"):
            raise InvalidRequest("Bundle.type must be 'transaction' or 'batch'",
                                 issues=[Issue("invalid", f"unsupported Bundle.type '{str(kind)[:20]}'", "Bundle.type")])
        entries = _entries(bundle)
        if kind == "transaction":
            self._transaction(entries, base_url, source, caller)
        else:
            for entry in entries:
                self._batch_entry(entry, base_url, source, caller)
        return {"resourceType": "Bundle", "type": f"{kind}-response",
                "entry": [entry.response for entry in entries]}

    def _transaction(self, entries: list[_Entry], base_url: str, source: str | None, caller: Caller) -> None:
        with self.store.unit_of_work(visibility=caller.visibility) as uow:
            self._write_transaction(uow, entries, source, caller)
            uow.commit()
        for entry in entries:
            if entry.method == "GET":
                entry.response = self._get(entry, base_url, caller)
            else:
                entry.response = _write_response(entry)

    def apply_transaction(self, uow: UnitOfWork, bundle: dict[str, Any], *, source: str | None,
                          caller: Caller = SYSTEM, updates: FeedUpdates | None = None) -> list[PendingWrite]:
        """Write a transaction Bundle inside the caller's unit of work (no commit); return the writes.

        Used by feeds, which must record the inbound message in the same database transaction. With
        `updates` (a feed's rules), Patient criteria follow merges to the survivor and updates of Patients
        and Encounters keep what the message leaves unmentioned.
        """
        if bundle.get("type") != "transaction":
            raise InvalidRequest("Expected a transaction Bundle")
        entries = _entries(bundle)
        if any(entry.method == "GET" for entry in entries):
            raise InvalidRequest("GET entries cannot be applied inside another transaction")
        return self._write_transaction(uow, entries, source, caller, updates)

    def _write_transaction(self, uow: UnitOfWork, entries: list[_Entry], source: str | None,
                           caller: Caller, updates: FeedUpdates | None = None) -> list[PendingWrite]:
        known = self._lock_and_prefetch(uow, entries, caller.institution)
        id_map = self._assign_ids(uow, entries, known, caller.institution, updates is not None)
        pending = _PendingIndex(entries)
        references = ConditionalReferences(uow, pending.find, known, owner=caller.institution)
        currents = uow.current_many([(e.resource_type, e.resource_id) for e in entries  # locked, in one query
                                     if e.method in ("PUT", "DELETE") and e.resource_id and not e.skip_write],
                                    for_update=True)
        writes: list[PendingWrite] = []
        now = self.clock()
        for entry in sorted(entries, key=lambda e: (_ORDER[e.method], e.index)):
            try:
                if updates is not None:
                    _combine_feed_update(uow, entry, currents, updates)
                self._plan_write(entry, currents, id_map, references, now, source, caller)
            except TesseraError as exc:
                raise BundleEntryError(entry.index, exc) from exc
            if entry.write is not None:
                writes.append(entry.write)
        keys = [(w.resource_type, w.resource_id) for w in writes]
        if len(set(keys)) != len(keys):
            raise InvalidRequest("A transaction may not change the same resource twice")
        try:
            present = {k for k, w in zip(keys, writes) if not w.deleted}
            present |= {(e.resource_type, e.resource_id) for e in entries  # matched just now in this transaction
                        if e.resource_id and (e.existing is not None or (e.skip_write and e.method != "DELETE"))}
            check_references_exist(uow, writes, present, require_targets=self.resources.referential_integrity,
                                   removed={k for k, w in zip(keys, writes) if w.deleted})
        except ReferenceNotResolved as exc:
            failing = next((e for e in entries if e.write is not None and e.write is exc.subject), entries[0])
            raise BundleEntryError(failing.index, exc) from exc
        persist(uow, writes)
        return writes

    @staticmethod
    def _lock_and_prefetch(uow: UnitOfWork, entries: list[_Entry], owner: str | None) -> Prefetched:
        """Lock the Bundle's conditional criteria, then look up all of them and its conditional references."""
        uow.lock_keys(_conditional_keys(entries))  # the store locks them in one global order: no deadlock
        criteria = []
        for entry in entries:
            path, _, query_text = entry.url.partition("?")
            condition = entry.request.get("ifNoneExist") if entry.method == "POST" else (
                query_text if entry.method in ("PUT", "DELETE") else None)
            if condition and isinstance(condition, str):
                criteria.append((path.split("/")[0], condition))
            if entry.method in ("POST", "PUT") and entry.resource is not None:
                entry.references = references_in(entry.resource)
                for reference in entry.references:
                    text = reference["reference"]
                    if "?" in text and (parts := conditional_parts(text)) is not None:
                        criteria.append(parts)
        return prefetch_conditional(uow, criteria, owner=owner)

    def _assign_ids(self, uow: UnitOfWork, entries: list[_Entry], known: Prefetched,
                    owner: str | None, merges_followed: bool = False) -> dict[str, str]:
        id_map: dict[str, str] = {}
        for entry in entries:
            try:
                self._resolve_target(uow, entry, known, owner, merges_followed)
            except TesseraError as exc:
                raise BundleEntryError(entry.index, exc) from exc
            if entry.full_url and entry.resource_id and entry.method in ("POST", "PUT"):
                target = f"{entry.resource_type}/{entry.resource_id}"
                id_map[entry.full_url] = target
                parsed = parse_reference(entry.full_url)
                if parsed is not None and parsed.base_url and parsed.relative != target:
                    # relative references resolve against the entry's absolute fullUrl (R4 bundle rules)
                    id_map.setdefault(parsed.relative, target)
        return id_map

    def _resolve_target(self, uow: UnitOfWork, entry: _Entry, known: Prefetched, owner: str | None,
                        merges_followed: bool = False) -> None:
        path, _, query_text = entry.url.partition("?")
        parts = path.split("/")
        entry.resource_type = parts[0]
        if "://" in entry.url or entry.resource_type.endswith(":"):
            raise InvalidRequest("request.url must be relative: Type, Type/id or Type?criteria",
                                 issues=[Issue("invalid", "absolute request.url", "request.url")])
        check_resource_type({"resourceType": entry.resource_type})
        if entry.resource is not None and entry.resource.get("resourceType") != entry.resource_type:
            raise InvalidRequest(f"resource is a {entry.resource.get('resourceType')!s:.40}, the url names "
                                 f"{entry.resource_type}")
        if entry.method == "POST":
            entry.resource_id = new_id()
            condition = entry.request.get("ifNoneExist")
            if condition:
                matches = match_conditional(uow, entry.resource_type, condition, known=known, owner=owner,
                                            others_if_none_owned=True)
                if merges_followed:
                    matches = follow_merges(uow, matches)
                if len(matches) > 1:
                    raise PreconditionFailed("ifNoneExist matched more than one resource")
                if matches:
                    entry.resource_id, entry.skip_write, entry.status = matches[0].resource_id, True, "200 OK"
        elif entry.method in ("PUT", "DELETE"):
            if query_text:
                matches = match_conditional(uow, entry.resource_type, query_text, known=known, owner=owner)
                if merges_followed and entry.method == "PUT":
                    matches = follow_merges(uow, matches)
                if len(matches) > 1:
                    raise PreconditionFailed(f"Conditional {entry.method} matched more than one resource")
                if matches:
                    entry.resource_id, entry.existing = matches[0].resource_id, matches[0]
                elif entry.method == "PUT":
                    entry.resource_id = (entry.resource or {}).get("id") or new_id()
                else:
                    entry.skip_write, entry.status = True, "204 No Content"
            elif len(parts) == 2:
                entry.resource_id = parts[1]
            else:
                raise InvalidRequest(f"{entry.method} url must be Type/id or Type?criteria")

    def _plan_write(self, entry: _Entry, currents: dict[tuple[str, str], CurrentVersion], id_map: dict[str, str],
                    references: ConditionalReferences, now: int, source: str | None, caller: Caller) -> None:
        if entry.method == "GET" or entry.skip_write:
            return
        assert entry.resource_id is not None
        fresh = entry.method == "POST"  # a server-assigned id cannot exist yet
        current = None if fresh else currents.get((entry.resource_type, entry.resource_id))
        if_match = entry.request.get("ifMatch")
        if if_match and (current is None or current.version != parse_etag(if_match)):
            raise PreconditionFailed(f"ifMatch {if_match} does not match the current version")
        if entry.method == "DELETE":
            if current is None:
                raise ResourceNotFound(f"{entry.resource_type}/{entry.resource_id} is not known")
            if not current.deleted:
                entry.write = prepare_delete(entry.resource_type, entry.resource_id, current, now,
                                             caller.institution)
            entry.status = "204 No Content"
            return
        resource = entry.resource or {}  # process() owns the Bundle: references are rewritten in place
        if entry.method == "PUT" and resource.get("id") not in (None, entry.resource_id):
            raise InvalidRequest("The resource id does not match the request url")
        found = references.resolve_in(resource, entry.resource_type, id_map, entry.references)
        if (entry.existing is not None and current is not None and not current.deleted
                and current.version == entry.existing.version
                and repeats_stored(resource, entry.existing.body, entry.resource_id, source)):
            entry.skip_write, entry.status = True, "200 OK"  # a no-op update makes no new version
            return
        entry.write = prepare_write(resource, resource_id=entry.resource_id, current=current, now_us=now,
                                    source=source, institution=caller.institution,
                                    patient_context=caller.visibility.patient)
        entry.write.references = found
        entry.status = "201 Created" if current is None or current.deleted else "200 OK"

    def _batch_entry(self, entry: _Entry, base_url: str, source: str | None, caller: Caller) -> None:
        try:
            if entry.method == "GET":
                entry.response = self._get(entry, base_url, caller)
                return
            path, _, query_text = entry.url.partition("?")
            parts = path.split("/")
            if entry.resource is not None and entry.resource.get("resourceType") != parts[0]:
                raise InvalidRequest(f"resource is a {str(entry.resource.get('resourceType'))[:40]}, "
                                     f"the url names {parts[0][:40]}")
            outcome: WriteOutcome
            if entry.method == "POST":
                outcome = self.resources.create(entry.resource or {}, source=source,
                                                if_none_exist=entry.request.get("ifNoneExist"), caller=caller)
            elif entry.method == "PUT":
                if query_text:
                    outcome = self.resources.conditional_update(parts[0], query_text, entry.resource or {},
                                                                source=source, caller=caller)
                else:
                    outcome = self.resources.update(parts[0], parts[-1], entry.resource or {},
                                                    if_match=entry.request.get("ifMatch"), source=source,
                                                    caller=caller)
            elif query_text:
                outcome = self.resources.conditional_delete(parts[0], query_text, caller=caller)
            else:
                outcome = self.resources.delete(parts[0], parts[-1], caller=caller)
            entry.response = _outcome_response(outcome, entry.method)
        except TesseraError as exc:
            entry.response = {"response": {"status": _status_line(exc),
                                            "outcome": operation_outcome(BundleEntryError(entry.index, exc).issues)}}

    def _get(self, entry: _Entry, base_url: str, caller: Caller) -> dict[str, Any]:
        path, _, query_text = entry.url.partition("?")
        parts = path.split("/")
        try:
            if len(parts) == 1:
                bundle = self.search.search(parts[0], parse_qsl(query_text, keep_blank_values=True), base_url=base_url,
                                            caller=caller)
                return {"resource": bundle, "response": {"status": "200 OK"}}
            version = int(parts[3]) if len(parts) == 4 and parts[2] == "_history" and (parts[3].isascii() and parts[3].isdigit()) else None
            stored = self.resources.read(parts[0], parts[1], version, caller=caller)
            return {"resource": stored.body, "response": {"status": "200 OK", "etag": etag(stored.version),
                                                          "lastModified": last_modified(stored)}}
        except TesseraError as exc:
            return {"response": {"status": _status_line(exc), "outcome": operation_outcome(exc.issues)}}


def _conditional_keys(entries: list[_Entry]) -> set[str]:
    """Lock keys of the conditional creates and updates in a Bundle (as match_conditional names them)."""
    keys = set()
    for entry in entries:
        path, _, query_text = entry.url.partition("?")
        condition = entry.request.get("ifNoneExist") if entry.method == "POST" else (
            query_text if entry.method == "PUT" else None)
        if condition:
            keys.add(f"{path.split('/')[0]}?{sorted(parse_qsl(condition, keep_blank_values=True))}")
    return keys


class _PendingIndex:
    """Finds resources created in the same transaction by `identifier=system|value` criteria."""

    def __init__(self, entries: list[_Entry]):
        self.by_identifier: dict[tuple[str, str | None, str | None], str] = {}
        self.by_value: dict[tuple[str, str | None], str] = {}
        for entry in entries:
            if entry.method not in ("POST", "PUT") or not entry.resource or not entry.resource_id:
                continue
            for identifier in entry.resource.get("identifier") or ():
                if isinstance(identifier, dict):
                    key = (entry.resource_type, identifier.get("system"), identifier.get("value"))
                    self.by_identifier.setdefault(key, f"{entry.resource_type}/{entry.resource_id}")
                    self.by_value.setdefault((entry.resource_type, identifier.get("value")),
                                             f"{entry.resource_type}/{entry.resource_id}")

    def find(self, resource_type: str, query_text: str) -> str | None:
        params = parse_qsl(query_text)
        if len(params) != 1 or params[0][0] != "identifier":
            return None
        system, sep, value = params[0][1].partition("|")
        if not sep:  # a value alone matches any system
            return self.by_value.get((resource_type, system))
        return self.by_identifier.get((resource_type, system or None, value))


def _write_response(entry: _Entry) -> dict[str, Any]:
    if entry.method == "DELETE":
        return {"response": {"status": entry.status or "204 No Content"}}
    response: dict[str, Any] = {"status": entry.status}
    if entry.write is not None:
        response["location"] = f"{entry.resource_type}/{entry.resource_id}/_history/{entry.write.version}"
        response["etag"] = etag(entry.write.version)
        response["lastModified"] = (entry.write.body or {}).get("meta", {}).get("lastUpdated")
        return {"response": response}
    response["location"] = f"{entry.resource_type}/{entry.resource_id}"
    return {"response": response}


def _outcome_response(outcome: WriteOutcome, method: str) -> dict[str, Any]:
    stored = outcome.stored
    if stored is None:
        return {"response": {"status": "204 No Content"}}
    if method == "DELETE":
        return {"response": {"status": "204 No Content", "etag": etag(stored.version)}}
    status = "201 Created" if outcome.created else "200 OK"
    return {"response": {"status": status, "location": f"{stored.key}/_history/{stored.version}",
                         "etag": etag(stored.version), "lastModified": last_modified(stored)}}


_REASONS = {400: "Bad Request", 404: "Not Found", 409: "Conflict", 410: "Gone", 412: "Precondition Failed",
            422: "Unprocessable Entity", 500: "Internal Server Error", 503: "Service Unavailable"}


def _status_line(exc: TesseraError) -> str:
    code = exc.status
    return f"{code} {_REASONS.get(code, '')}".strip()


def _combine_feed_update(uow: UnitOfWork, entry: _Entry, currents: dict[tuple[str, str], CurrentVersion],
                         updates: FeedUpdates) -> None:
    """Complete a feed's update of a known resource with what the store holds (read again once locked)."""
    if entry.method != "PUT" or entry.resource is None or entry.existing is None or entry.skip_write:
        return
    current = currents.get((entry.resource_type, entry.existing.resource_id))
    if current is None or current.deleted:
        return
    stored = entry.existing
    if current.version != stored.version:  # changed between the lookup and the lock
        stored = uow.read(entry.resource_type, stored.resource_id) or stored
        if entry.resource_type == "Patient" and current_survivor(uow, stored).key != stored.key:
            raise VersionConflict(f"{stored.key} was merged into another patient meanwhile")  # look up again
        entry.existing = stored
    entry.resource = updates.combine(entry.full_url, entry.resource_type, entry.resource, stored.body)
