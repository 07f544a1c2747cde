"""Bulk loading of FHIR records (files, NDJSON uploads): each record on its own, every rejection located.

A record whose references point at something not loaded yet waits and is retried when the rest is in;
records that refer to each other are finally loaded together in one transaction. A record that repeats
the id of a waiting one waits behind it, so the input's order decides which version is current.
"""
from __future__ import annotations

import codecs
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from engine.errors import BundleEntryError, ReferenceNotResolved, TesseraError
from engine.fhir.json_depth import nesting_exceeds
from engine.security.caller import SYSTEM, Caller
from engine.services.bundles import BundleService
from engine.services.resources import ResourceService

log = logging.getLogger(__name__)
Key = tuple[str, str]
ENTRY_BUNDLES = ("collection", "searchset", "history")  # containers: their entries are loaded one by one
WRITE_BUNDLES = ("transaction", "batch")
MAX_TOGETHER_ROUNDS = 50  # transactions tried over the waiting records before each gets a last attempt alone
MAX_TOGETHER = 2000  # waiting records loaded together in one transaction at most
RETRY_ID = "tessera-bulk-entry-retry"  # marks a one-entry batch retrying an entry of a batch in the input


@dataclass(frozen=True)
class _Record:
    location: str
    body: dict[str, Any]
    keys: frozenset[Key]
    order: int  # position in the input: repeated ids are applied in this order
    size: int = 0  # bytes the record took in the input, when known

    @property
    def is_bundle_request(self) -> bool:
        return self.body.get("resourceType") == "Bundle" and self.body.get("type") in WRITE_BUNDLES


class BulkLoader:
    """Loads records through the resource and Bundle services, reporting each rejection to `on_reject`."""

    def __init__(self, resources: ResourceService, bundles: BundleService, *, on_reject: Callable[[str, str], None],
                 caller: Caller = SYSTEM, source: str | None = None, base_url: str = "http://localhost/fhir",
                 authorize: Callable[[dict[str, Any]], None] | None = None, max_depth: int = 64,
                 max_waiting: int = 100_000, max_waiting_bytes: int | None = None):
        self.resources = resources
        self.bundles = bundles
        self.on_reject = on_reject
        self.caller = caller
        self.source = source
        self.base_url = base_url
        self.authorize = authorize or (lambda record: None)
        self.max_depth = max_depth
        self.max_waiting = max_waiting
        self.max_waiting_bytes = max_waiting_bytes
        self.accepted = 0
        self.rejected = 0
        self._order = 0
        self._waiting: list[_Record] = []
        self._waiting_keys: set[Key] = set()
        self._waiting_bytes = 0

    @property
    def waiting(self) -> int:
        """Records waiting for the resources they refer to."""
        return len(self._waiting)

    def reject(self, location: str, reason: str) -> None:
        """Count and report one rejected record."""
        self.rejected += 1
        self.on_reject(location, reason)

    def load(self, location: str, record: Any, *, size: int = 0) -> None:
        """Load one parsed record: a resource, a transaction or batch Bundle, or a Bundle of entries; `size`
        is what it took in the input (bounds the memory held by records waiting for their references)."""
        try:
            if not isinstance(record, dict) or not isinstance(record.get("resourceType"), str):
                self.reject(location, "not a FHIR resource (a JSON object with a resourceType)")
            elif nesting_exceeds(record, self.max_depth):
                self.reject(location, f"JSON nesting deeper than {self.max_depth} levels")
            elif record["resourceType"] == "Bundle" and record.get("type") in ENTRY_BUNDLES:
                self._entries(location, record)  # a container: its entries are what is stored
            elif "id" in record and not isinstance(record["id"], str):
                self.reject(location, f"{record['resourceType']}.id must be a string (FHIR id), "
                                      f"not {_json_kind(record['id'])}")
            else:
                self._order += 1
                self._attempt(_Record(location, record, _keys(record), self._order, size))
        except Exception as exc:  # noqa: BLE001 - one malformed record must not stop the load
            log.error("bulk load: unexpected %s reading one record", type(exc).__name__)
            self.reject(location, f"unreadable record ({type(exc).__name__}); it was not loaded")

    def load_json(self, location: str, data: bytes) -> None:
        """Load one record from its JSON text (a UTF-8 byte order mark is ignored)."""
        try:
            record = orjson.loads(data.removeprefix(codecs.BOM_UTF8))
        except orjson.JSONDecodeError as exc:
            self.reject(location, f"not valid JSON ({str(exc)[:120]})")
            return
        self.load(location, record, size=len(data))

    def finish(self) -> None:
        """Retry waiting records (latest first, so chains of forward references resolve in one round) until
        no more succeed; then load what refers to each other together, and reject what points at nothing."""
        stuck_rounds = 0
        while self._waiting:
            round_ = sorted(self._take_waiting(), key=lambda r: r.order)
            before = (self.accepted, self.rejected)
            first: dict[Key, int] = {}
            for index, record in enumerate(round_):
                for key in record.keys:
                    first.setdefault(key, index)
            for index in reversed(range(len(round_))):
                record = round_[index]
                if any(first[key] < index for key in record.keys):  # an earlier version goes first
                    self._wait(record, "an earlier record with the same id could not be loaded")
                else:
                    self._attempt(record, in_order=False)
            if (self.accepted, self.rejected) == before:
                stuck_rounds += 1
                self._resolve_stuck(final=stuck_rounds > MAX_TOGETHER_ROUNDS)

    def _entries(self, location: str, bundle: dict[str, Any]) -> None:
        entries = bundle.get("entry") or []
        if not isinstance(entries, list):
            self.reject(location, f"Bundle.entry of a {bundle['type']} Bundle must be a list")
            return
        indexed = list(enumerate(entries))
        names = _local_names(entries)
        if bundle["type"] == "history":  # newest first: replay oldest first so the newest ends current
            indexed.reverse()
        for index, entry in indexed:
            where = f"{location} entry[{index}]"
            if not isinstance(entry, dict):
                self.reject(where, "the entry is not a JSON object")
                continue
            search = entry.get("search")
            if isinstance(search, dict) and search.get("mode") == "outcome":
                continue  # a searchset's OperationOutcome describes the search, not data
            request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
            resource = entry.get("resource")
            if str(request.get("method", "")).upper() == "DELETE" and bundle["type"] == "history":
                self._order += 1
                delete = {"resourceType": "Bundle", "type": "transaction", "entry": [{"request": request}]}
                self._attempt(_Record(where, delete, _keys(delete), self._order))
            elif not isinstance(resource, dict):
                self.reject(where, "the entry holds no resource")
            else:
                self.load(where, _renamed(resource, names) if names else resource)

    def _take_waiting(self) -> list[_Record]:
        waiting, self._waiting, self._waiting_keys, self._waiting_bytes = self._waiting, [], set(), 0
        return waiting

    def _wait(self, record: _Record, reason: str) -> None:
        too_big = self.max_waiting_bytes is not None and self._waiting_bytes + record.size > self.max_waiting_bytes
        if len(self._waiting) >= self.max_waiting or too_big:
            self.reject(record.location, f"{reason} (too many records already wait for their references)")
            return
        self._waiting.append(record)
        self._waiting_keys |= record.keys
        self._waiting_bytes += record.size

    def _attempt(self, record: _Record, *, final: bool = False, in_order: bool = True) -> None:
        if in_order and not final and record.keys & self._waiting_keys:
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
        retried_entry = len(entries) == 1 and body.get("id") == RETRY_ID
        for index, answer in enumerate(result["entry"]):
            response = answer.get("response") or {}
            status = str(response.get("status", ""))
            if status.startswith("2"):
                self.accepted += 1
                continue
            where = record.location if retried_entry else f"{record.location} entry[{index}]"
            issues = (response.get("outcome") or {}).get("issue") or [{}]
            where_in = (issues[0].get("expression") or [""])[0]
            reason = f"{status}: {issues[0].get('diagnostics') or 'failed'}" + (f" (at {where_in})" if where_in else "")
            if not final and _unresolved(status, issues) and index < len(entries):
                retry = {"resourceType": "Bundle", "id": RETRY_ID, "type": "batch", "entry": [entries[index]]}
                self._wait(_Record(where, retry, _keys(retry), record.order), reason)
            else:
                self.reject(where, reason)

    def _resolve_stuck(self, *, final: bool) -> None:
        """Nothing waiting could be loaded alone: load the first version of each waiting resource in one
        transaction (references among them then resolve); an entry that fails is rejected and the rest wait
        again. Once that is no longer possible, or `final`, each record gets a last attempt."""
        records = sorted(self._take_waiting(), key=lambda r: r.order)
        together: list[_Record] = []
        later: list[_Record] = []
        seen: set[Key] = set()
        for record in records:
            alone = record.is_bundle_request or not record.keys or record.keys & seen
            (later if alone else together).append(record)
            seen |= record.keys
        if not final and 2 <= len(together) <= MAX_TOGETHER:
            bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [_as_entry(r.body) for r in together]}
            try:
                self.bundles.process(bundle, base_url=self.base_url, source=self.source, caller=self.caller)
            except BundleEntryError as exc:
                if 0 <= exc.index < len(together):
                    self.reject(together.pop(exc.index).location, exc.cause.message)
                    for record in together + later:
                        self._wait(record, "waits for the records it refers to")
                    return
            except Exception:  # noqa: BLE001 - fall back to one by one, each with its own reason
                log.info("bulk load: loading waiting records together failed; trying each on its own")
            else:
                self.accepted += len(together)
                for record in later:
                    self._wait(record, "waits for the records it refers to")
                return
        for record in records:
            self._attempt(record, final=True)


def _json_kind(value: Any) -> str:
    return "null" if value is None else {bool: "a boolean", int: "a number", float: "a number", list: "an array",
                                         dict: "an object"}.get(type(value), type(value).__name__)


def _local_names(entries: list[Any]) -> dict[str, str]:
    """`urn:uuid:` / `urn:oid:` fullUrls of the entries whose resource has an id, as `Type/id`: entries of
    a collection are loaded one by one under their own ids, so references between them keep working."""
    names: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            continue
        full_url, resource = entry.get("fullUrl"), entry["resource"]
        if (isinstance(full_url, str) and full_url.startswith(("urn:uuid:", "urn:oid:"))
                and isinstance(resource.get("id"), str) and isinstance(resource.get("resourceType"), str)):
            names[full_url] = f"{resource['resourceType']}/{resource['id']}"
    return names


def _renamed(value: Any, names: dict[str, str]) -> Any:
    """`value` with every `reference` naming one of `names` replaced by what it names."""
    if isinstance(value, dict):
        return {key: (names.get(item, item) if key == "reference" and isinstance(item, str) else _renamed(item, names))
                for key, item in value.items()}
    if isinstance(value, list):
        return [_renamed(item, names) for item in value]
    return value


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
        request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
        url = str(request.get("url", "")).lstrip("/").split("?")[0]
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
