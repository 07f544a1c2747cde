"""FHIR search: run a parsed query, add `_include`/`_revinclude` resources, build a searchset Bundle."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from engine.errors import InvalidRequest, Issue, UnsupportedSearchParameter
from engine.fhir.validation import check_resource_type
from engine.search.parsing import parse_clause, parse_search
from engine.search.query import IncludeSpec, SearchQuery
from engine.security.caller import SYSTEM, Caller
from engine.services.presentation import full_url, operation_outcome, page_url, subset
from engine.store.model import Page, StoredResource
from engine.store.ports import ResourceStore, UnitOfWork

MAX_INCLUDED = 1000
RELEVANCE_PARAMETERS = {"_text": "hybrid", "_content": "words"}  # answered by the search index
RELEVANCE_DEPTH = 1000

# (type, text, mode, depth, patients) -> ids, most relevant first; `patients` ("Patient/id") narrow the index
Relevance = Callable[[str, str, str, int, tuple[str, ...]], list[str]]
PATIENT_PARAMETERS = ("patient", "subject", "patient:Patient", "subject:Patient")


class SearchService:
    """Type-level search over the store's index tables."""

    def __init__(self, store: ResourceStore, *, default_count: int = 50, max_count: int = 1000):
        self.store = store
        self.default_count = default_count
        self.max_count = max_count
        self.relevance: Relevance | None = None  # wired by the composition root when a search index exists

    def parse(self, resource_type: str, params: Sequence[tuple[str, str]], *, strict: bool = False,
              base_url: str | None = None) -> SearchQuery:
        """Parse request parameters for a search on `resource_type` (absolute references under `base_url` are local)."""
        check_resource_type({"resourceType": resource_type})
        return parse_search(resource_type, params, strict=strict, default_count=self.default_count,
                            max_count=self.max_count, base_url=base_url)

    def search(self, resource_type: str, params: Sequence[tuple[str, str]], *, base_url: str,
               strict: bool = False, caller: Caller = SYSTEM) -> dict[str, Any]:
        """Run a search and return a searchset Bundle with paging links (only what the caller may see)."""
        relevance = [(name, value) for name, value in params if name in RELEVANCE_PARAMETERS]
        query = self.parse(resource_type, [p for p in params if p[0] not in RELEVANCE_PARAMETERS], strict=strict,
                           base_url=base_url)
        with self.store.unit_of_work(read_only=True, visibility=caller.visibility) as uow:
            page = (self._relevant(uow, query, relevance, _patients_named(params)) if relevance
                    else uow.search(query))
            included = self._included(uow, query, page.items)
        query.self_params.extend(relevance)
        return _searchset(query, page.items, included, page.total, base_url)

    def _relevant(self, uow: UnitOfWork, query: SearchQuery, relevance: list[tuple[str, str]],
                  patients: tuple[str, ...]) -> Page:
        """`_text` / `_content`: the index ranks (within `patients` when the search names them), the store
        filters by the other parameters and visibility."""
        if self.relevance is None:
            raise UnsupportedSearchParameter("_text and _content need the search index, which is not configured")
        ranked: list[str] | None = None
        for name, value in relevance:
            if not value.strip():
                raise InvalidRequest(f"{name} must not be empty", issues=[Issue("invalid", "empty value", name)])
            ids = self.relevance(query.resource_type, value, RELEVANCE_PARAMETERS[name], RELEVANCE_DEPTH, patients)
            ranked = ids if ranked is None else [i for i in ranked if i in set(ids)]
        if not ranked:
            return Page([], 0)
        inner = dataclasses.replace(query, clauses=[*query.clauses, parse_clause(query.resource_type, "_id",
                                                                                 ",".join(ranked))],
                                    count=len(ranked), offset=0, total="none", includes=[], revincludes=[])
        items = uow.search(inner).items
        if not query.sort:
            order = {identifier: rank for rank, identifier in enumerate(ranked)}
            items.sort(key=lambda stored: order.get(stored.resource_id, len(order)))
        return Page(items[query.offset:query.offset + query.count], len(items))

    def _included(self, uow: UnitOfWork, query: SearchQuery, matches: list[StoredResource]) -> list[StoredResource]:
        seen = {m.key for m in matches}
        included: list[StoredResource] = []
        frontier = matches
        for round_ in range(3):  # `:iterate` follows at most a few hops
            found: list[StoredResource] = []
            for spec in query.includes:
                if round_ and not spec.iterate:
                    continue
                sources = [s for s in frontier if s.resource_type == spec.source_type]
                parameter = None if spec.parameter == "*" else spec.parameter
                found.extend(uow.referenced(sources, parameter, spec.target_type))
            for spec in query.revincludes:
                if round_ and not spec.iterate:
                    continue
                parameter = None if spec.parameter == "*" else spec.parameter
                found.extend(uow.referencing(spec.source_type, parameter, frontier))
            fresh = []
            for resource in found:
                if resource.key not in seen and len(included) < MAX_INCLUDED:
                    seen.add(resource.key)
                    included.append(resource)
                    fresh.append(resource)
            if not fresh or not any(s.iterate for s in [*query.includes, *query.revincludes]):
                break
            frontier = fresh
        return included


def _patients_named(params: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """The Patients a search is limited to, to narrow the index's ranking the same way: those the one
    patient parameter names (`patient=x` or `Patient/x`; `subject=Patient/x`); none when it is absent,
    repeated, chained or names something else (the store's filtering still applies)."""
    named = [(name, value) for name, value in params if name in PATIENT_PARAMETERS]
    if len(named) != 1:
        return ()
    name, value = named[0]
    found = []
    for item in value.split(","):
        item = item.strip()
        if not item.startswith("Patient/") and name != "patient" and not name.endswith(":Patient"):
            return ()  # `subject=x` may name a Group or a Device as well
        identifier = item.removeprefix("Patient/")
        if not identifier or any(c in identifier for c in "/?:"):
            return ()
        found.append(f"Patient/{identifier}")
    return tuple(found)


def _searchset(query: SearchQuery, matches: list[StoredResource], included: list[StoredResource],
               total: int | None, base_url: str) -> dict[str, Any]:
    params = list(query.self_params)
    for spec in query.includes:
        params.append(("_include" + (":iterate" if spec.iterate else ""), _spec_text(spec)))
    for spec in query.revincludes:
        params.append(("_revinclude" + (":iterate" if spec.iterate else ""), _spec_text(spec)))
    if query.sort:
        params.append(("_sort", ",".join(("-" if k.descending else "") + k.parameter.code for k in query.sort)))
    for name, value in (("_summary", query.summary), ("_elements", ",".join(query.elements) or None)):
        if value:
            params.append((name, value))
    links = [{"relation": "self", "url": page_url(base_url, query.resource_type, params, query.count, query.offset)}]
    more = (query.offset + len(matches) < total) if total is not None else len(matches) == query.count
    if more and query.summary != "count" and query.count:
        links.append({"relation": "next", "url": page_url(base_url, query.resource_type, params, query.count,
                                                           query.offset + query.count)})
    if query.offset > 0:
        links.append({"relation": "previous", "url": page_url(base_url, query.resource_type, params, query.count,
                                                               max(0, query.offset - query.count))})
    entries: list[dict[str, Any]] = []
    for mode, items in (("match", matches), ("include", included)):
        for stored in items:
            entries.append({"fullUrl": full_url(base_url, stored),
                            "resource": subset(stored.body or {}, elements=query.elements, summary=query.summary),
                            "search": {"mode": mode}})
    if query.warnings:
        entries.append({"resource": operation_outcome(query.warnings), "search": {"mode": "outcome"}})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        bundle["total"] = total
    bundle["link"] = links
    if entries:
        bundle["entry"] = entries
    return bundle


def _spec_text(spec: IncludeSpec) -> str:
    return ":".join(x for x in (spec.source_type, spec.parameter, spec.target_type) if x)

