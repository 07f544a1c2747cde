"""The unified view of a golden record: every linked compartment, the same clinical fact listed once."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from engine.errors import InvalidRequest, Issue
from engine.fhir.dates import parse_range
from engine.identity.ports import is_golden
from engine.identity.views import Resolved
from engine.security.caller import Caller
from engine.store.model import StoredResource
from engine.store.ports import ResourceStore

ALSO_SOURCE = "urn:tessera:mdm:also-recorded-by"
NOT_CLINICAL = ("AuditEvent",)  # access logs name patients but are not part of their record
_DATE_ELEMENTS = ("effectiveDateTime", "effectivePeriod", "onsetDateTime", "onsetPeriod", "recordedDate",
                  "authoredOn", "occurrenceDateTime", "performedDateTime", "performedPeriod", "period", "issued",
                  "date", "started", "created", "dateAsserted")


@dataclass
class EverythingQuery:
    """Parameters of Patient/$everything: start, end (clinical date), _since, _type, _count, _offset."""

    start: int | None = None
    end: int | None = None
    since: int | None = None
    types: tuple[str, ...] = ()
    count: int = 100
    offset: int = 0

    @classmethod
    def parse(cls, params: list[tuple[str, str]], *, max_count: int = 1000) -> "EverythingQuery":
        """Parse the query parameters (unknown ones are ignored)."""
        query = cls()
        for name, value in params:
            if name in ("start", "end", "_since"):
                bounds = parse_range(value)
                if bounds is None:
                    raise InvalidRequest(f"{name} must be a FHIR date or instant",
                                         issues=[Issue("invalid", "not a date", name)])
                if name == "start":
                    query.start = bounds[0]
                elif name == "end":
                    query.end = bounds[1]
                else:
                    query.since = bounds[0]
            elif name == "_type":
                query.types += tuple(t.strip() for t in value.split(",") if t.strip())
            elif name in ("_count", "_offset"):
                if not (value.isascii() and value.isdigit()):
                    raise InvalidRequest(f"{name} must be a non-negative integer",
                                         issues=[Issue("invalid", "not a number", name)])
                if name == "_count":
                    query.count = min(int(value), max_count)
                else:
                    query.offset = min(int(value), 1_000_000_000)
        return query


def clinical_time(body: dict[str, Any]) -> tuple[int, int] | None:
    """The (low, high) microsecond range of a resource's main clinical date, when it has one."""
    for element in _DATE_ELEMENTS:
        value = body.get(element)
        if isinstance(value, dict):
            value = value.get("start") or value.get("end")
        if isinstance(value, str) and (bounds := parse_range(value)):
            return bounds
    return None


def _codes(body: dict[str, Any]) -> tuple[str, ...]:
    for element in ("code", "vaccineCode", "medicationCodeableConcept", "type"):
        concept = body.get(element)
        if isinstance(concept, list):
            concept = concept[0] if concept else None
        if isinstance(concept, dict):
            return tuple(sorted(f"{c.get('system')}|{c.get('code')}" for c in concept.get("coding") or []
                                if isinstance(c, dict) and c.get("code")))
    return ()


def fact_key(body: dict[str, Any]) -> tuple[Any, ...] | None:
    """What makes two resources the same clinical fact: identifiers, else code + time + value."""
    resource_type = body.get("resourceType")
    if resource_type == "Patient":
        return None
    identifiers = sorted(f"{i.get('system')}|{i.get('value')}" for i in body.get("identifier") or []
                         if isinstance(i, dict) and i.get("value"))
    if identifiers:
        return (resource_type, "id", tuple(identifiers))
    codes, when = _codes(body), clinical_time(body)
    if not codes or when is None:
        return None
    value = {k: v for k, v in body.items() if k.startswith("value")}
    return (resource_type, "fact", codes, when[0], orjson.dumps(value, option=orjson.OPT_SORT_KEYS))


def _source(stored: StoredResource) -> str:
    return ((stored.body or {}).get("meta") or {}).get("source") or stored.key


def deduplicate(resources: list[StoredResource]) -> list[dict[str, Any]]:
    """Bodies with the same clinical fact listed once: the first keeps meta.source, the others are named in
    an extension (reference and source)."""
    kept: list[dict[str, Any]] = []
    by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
    for stored in resources:
        body = stored.body or {}
        key = fact_key(body)
        if key is not None and key in by_key:
            first = by_key[key]
            first.setdefault("extension", []).append({"url": ALSO_SOURCE, "extension": [
                {"url": "resource", "valueReference": {"reference": stored.key}},
                {"url": "source", "valueUri": _source(stored)}]})
            continue
        copy = orjson.loads(orjson.dumps(body))
        if key is not None:
            by_key[key] = copy
        kept.append(copy)
    return kept


def compartments(store: ResourceStore, resolved: Resolved, caller: Caller) -> list[StoredResource]:
    """The members themselves and every visible resource referring to them, oldest first."""
    with store.unit_of_work(read_only=True, visibility=caller.visibility) as uow:
        found = uow.referencing(None, None, resolved.members)
    seen, out = set(), []
    for stored in [*resolved.members, *sorted(found, key=lambda s: (s.last_updated_us, s.key))]:
        if stored.key not in seen and stored.body is not None and stored.resource_type not in NOT_CLINICAL \
                and not is_golden(stored.body):
            seen.add(stored.key)
            out.append(stored)
    return out


def everything(store: ResourceStore, resolved: Resolved, query: EverythingQuery, caller: Caller,
               readable: Callable[[str], bool] = lambda _type: True) -> tuple[list[dict[str, Any]], int]:
    """The deduplicated resources of every linked record (one page) and the total after filters; only
    types `readable` allows."""
    selected = []
    for stored in compartments(store, resolved, caller):
        body = stored.body or {}
        if (query.types and stored.resource_type not in query.types) or not readable(stored.resource_type):
            continue
        if query.since is not None and stored.last_updated_us < query.since:
            continue
        if stored.resource_type != "Patient" and (query.start is not None or query.end is not None):
            when = clinical_time(body)
            if when is not None and ((query.start is not None and when[1] < query.start) or
                                     (query.end is not None and when[0] > query.end)):
                continue
        selected.append(stored)
    unique = deduplicate(selected)
    return unique[query.offset:query.offset + query.count], len(unique)
