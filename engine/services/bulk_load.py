"""Bulk loading of FHIR records (files, NDJSON uploads): each record on its own, every rejection located.

A record whose references point at something not loaded yet waits and is retried when the rest is in;
records that refer to each other are finally loaded together in one transaction. A record that repeats
the id of a waiting one waits behind it, so the input's order decides which version is current.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from engine.errors import BundleEntryError, ReferenceNotResolved, TesseraError
from engine.security.caller import SYSTEM, Caller
from engine.services.bundles import BundleService
from engine.services.resources import ResourceService

log = logging.getLogger(__name__)
Key = tuple[str, str]
ENTRY_BUNDLES = ("collection", "searchset", "history")  # containers: their entries are loaded one by one
WRITE_BUNDLES = ("transaction", "batch")
MAX_TOGETHER_ROUNDS = 50


@dataclass(frozen=True)
class _Record:
    location: str
    body: dict[str, Any]
    keys: frozenset[Key]

    @property
    def is_bundle_request(self) -> bool:
        return self.body.get("resourceType") == "Bundle" and self.body.get("type") in WRITE_BUNDLES


class BulkLoader:
    """Loads records through the resource and Bundle services, reporting each rejection to `on_reject`."""

    def __init__(self, resources: ResourceService, bundles: BundleService, *, on_reject: Callable[[str, str], None],
                 caller: Caller = SYSTEM, source: str | None = None, base_url: str = "http://localhost/fhir",
                 authorize: Callable[[dict[str, Any]], None] | None = None, max_depth: int = 64,
                 max_waiting: int = 100_000):
        self.resources = resources
        self.bundles = bundles
        self.on_reject = on_reject
        self.caller = caller
        self.source = source
        self.base_url = base_url
        self.authorize = authorize or (lambda record: None)
        self.max_depth = max_depth
        self.max_waiting = max_waiting
        self.accepted = 0
        self.rejected = 0
        self._waiting: list[_Record] = []
        self._waiting_keys: set[Key] = set()

    @property
    def waiting(self) -> int:
        """Records waiting for the resources they refer to."""
        return len(self._waiting)

    def reject(self, location: str, reason: str) -> None:
        """Count and report one rejected record."""
        self.rejected += 1
        self.on_reject(location, reason)

    def load(self, location: str, record: Any) -> None:
        """Load one parsed record: a resource, a transaction or batch Bundle, or a Bundle of entries."""
        if not isinstance(record, dict) or not isinstance(record.get("resourceType"), str):
            self.reject(location, "not a FHIR resource (a JSON object with a resourceType)")
            return
        if _too_deep(record, self.max_depth):
            self.reject(location, f"JSON nesting deeper than {self.max_depth} levels")
            return
        if record["resourceType"] == "Bundle" and record.get("type") in ENTRY_BUNDLES:
            self._entries(location, record)
            return
        self._attempt(_Record(location, record, _keys(record)))

    def finish(self) -> None:
        """Retry waiting records until no more succeed, then load the rest together or reject each one."""
        while self._waiting:
            round_, before = self._take_waiting(), self.accepted
            for record in round_:
                self._attempt(record)
            if self.accepted == before:
                self._load_together(self._take_waiting())

    def _entries(self, location: str, bundle: dict[str, Any]) -> None:
        entries = bundle.get("entry") or []
        if not isinstance(entries, list):
            self.reject(location, f"Bundle.entry of a {bundle['type']} Bundle must be a list")
            return
        for index, entry in enumerate(entries):
            where = f"{location} entry[{index}]"
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(entry, dict) and (entry.get("search") or {}).get("mode") == "outcome":
                continue  # a searchset's OperationOutcome describes the search, not data
            if not isinstance(resource, dict):
                method = ((entry.get("request") or {}).get("method") if isinstance(entry, dict) else None) or ""
                self.reject(where, "a history entry without a resource (a delete) is not applied"
                            if str(method).upper() == "DELETE" else "the entry holds no resource")
                continue
            self.load(where, resource)

    def _take_waiting(self) -> list[_Record]:
        waiting, self._waiting, self._waiting_keys = self._waiting, [], set()
        return waiting

    def _wait(self, record: _Record, reason: str) -> None:
        if len(self._waiting) >= self.max_waiting:
            self.reject(record.location, f"{reason} (too many records already wait for their references)")
            return
        self._waiting.append(record)
        self._waiting_keys |= record.keys

    def _attempt(self, record: _Record, *, final: bool = False) -> None:
        if not final and record.keys & self._waiting_keys:
            self._wait(record, "an earlier record with the same id could not be loaded")
            return
        try:
            self.authorize(record.body)
            if record.is_bundle_request:
                self._bundle(record, final=final)
            else:
                self._single(record.body)
                self.accepted += 1
        except (ReferenceNotResolved, BundleEntryError) as exc:
            unresolved = isinstance(exc, ReferenceNotResolved) or isinstance(exc.cause, ReferenceNotResolved)
            if unresolved and not final:
                self._wait(record, exc.message)
            else:
                self.reject(record.location, exc.message)
        except TesseraError as exc:
            self.reject(record.location, exc.message)
        except Exception as exc:  # noqa: BLE001 - one defective record must not stop the load
            log.error("bulk load: unexpected %s for one record", type(exc).__name__)
            self.reject(record.location, f"internal error ({type(exc).__name__}); the record was not loaded")

    def _single(self, body: dict[str, Any]) -> None:
        if isinstance(body.get("id"), str):
            self.resources.update(body["resourceType"], body["id"], body, source=self.source, caller=self.caller)
        else:
            self.resources.create(body, source=self.source, caller=self.caller)

    def _bundle(self, record: _Record, *, final: bool) -> None:
        body = record.body
        if body.get("type") == "transaction":
            result = self.bundles.process(_copy(body), base_url=self.base_url, source=self.source, caller=self.caller)
            self.accepted += len(result["entry"])
            return
        entries = body.get("entry") if isinstance(body.get("entry"), list) else []
        result = self.bundles.process(_copy(body), base_url=self.base_url, source=self.source, caller=self.caller)
        for index, answer in enumerate(result["entry"]):
            response = answer.get("response") or {}
            status = str(response.get("status", ""))
            if status.startswith("2"):
                self.accepted += 1
                continue
            where = f"{record.location} entry[{index}]"
            issues = (response.get("outcome") or {}).get("issue") or [{}]
            where_in = (issues[0].get("expression") or [""])[0]
            reason = f"{status}: {issues[0].get('diagnostics') or 'failed'}" + (f" (at {where_in})" if where_in else "")
            if not final and _unresolved(status, issues) and index < len(entries):
                retry = {"resourceType": "Bundle", "type": "batch", "entry": [entries[index]]}
                self._wait(_Record(where, retry, _keys(retry)), reason)
            else:
                self.reject(where, reason)

    def _load_together(self, records: list[_Record]) -> None:
        """Records that still wait refer to each other or to nothing: one transaction for the first version of
        each resource (an entry that fails is rejected and the rest tried again), then the others in order."""
        together: list[_Record] = []
        later: list[_Record] = []
        seen: set[Key] = set()
        for record in records:
            alone = record.is_bundle_request or not record.keys or record.keys & seen
            (later if alone else together).append(record)
            seen |= record.keys
        for _ in range(MAX_TOGETHER_ROUNDS):
            if len(together) < 2:
                break
            bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [_as_entry(r.body) for r in together]}
            try:
                self.bundles.process(bundle, base_url=self.base_url, source=self.source, caller=self.caller)
            except BundleEntryError as exc:
                if not 0 <= exc.index < len(together):
                    break
                self.reject(together.pop(exc.index).location, exc.cause.message)
                continue
            except Exception:  # noqa: BLE001 - fall back to one by one, each with its own reason
                break
            self.accepted += len(together)
            together = []
        for record in together + later:
            self._attempt(record, final=True)


def _as_entry(body: dict[str, Any]) -> dict[str, Any]:
    resource_type, resource_id = body["resourceType"], body.get("id")
    if isinstance(resource_id, str):
        return {"resource": _copy(body), "request": {"method": "PUT", "url": f"{resource_type}/{resource_id}"}}
    return {"resource": _copy(body), "request": {"method": "POST", "url": resource_type}}


def _keys(record: dict[str, Any]) -> frozenset[Key]:
    """The (type, id) pairs a record writes, as far as its content names them."""
    if record.get("resourceType") != "Bundle" or record.get("type") not in WRITE_BUNDLES:
        resource_id = record.get("id")
        return frozenset({(record["resourceType"], resource_id)}) if isinstance(resource_id, str) else frozenset()
    keys: set[Key] = set()
    for entry in record.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource") if isinstance(entry.get("resource"), dict) else {}
        url = str((entry.get("request") or {}).get("url", "")).lstrip("/").split("?")[0]
        parts = url.split("/")
        if isinstance(resource.get("id"), str) and isinstance(resource.get("resourceType"), str):
            keys.add((resource["resourceType"], resource["id"]))
        elif len(parts) >= 2 and parts[1]:
            keys.add((parts[0], parts[1]))
    return frozenset(keys)


def _unresolved(status: str, issues: list[dict[str, Any]]) -> bool:
    """A batch entry answered with ReferenceNotResolved (422, issue code not-found)."""
    return status.startswith("422") and any(i.get("code") == ReferenceNotResolved.issue_code for i in issues)


def _copy(body: dict[str, Any]) -> dict[str, Any]:
    """A deep copy (Bundle processing rewrites its input in place)."""
    return orjson.loads(orjson.dumps(body))


def _too_deep(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
    return False

