"""Shape stored resources for the wire: full URLs, ETags, `_elements` and `_summary` subsets."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from engine.errors import Issue
from engine.fhir.dates import format_instant
from engine.fhir.elements import mandatory_elements, summary_elements
from engine.store.model import StoredResource

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}
_ALWAYS = ("resourceType", "id", "meta")


def etag(version: int) -> str:
    """The weak ETag of a version."""
    return f'W/"{version}"'


def full_url(base_url: str, stored: StoredResource) -> str:
    """The absolute URL of a resource."""
    return f"{base_url}/{stored.resource_type}/{stored.resource_id}"


def last_modified(stored: StoredResource) -> str:
    """The version's lastUpdated as a FHIR instant."""
    return format_instant(stored.last_updated_us)


def subset(resource: dict[str, Any], *, elements: tuple[str, ...] = (), summary: str | None = None) -> dict[str, Any]:
    """Apply `_elements` or `_summary` to a resource, tagging it SUBSETTED when anything was removed.

    Mandatory elements are always kept; `_summary=true` keeps the elements the specification marks
    isSummary; `text` keeps the narrative, id, meta and mandatory elements; `data` drops the narrative.
    """
    resource_type = resource.get("resourceType", "")
    mandatory = mandatory_elements(resource_type)
    if elements:
        kept = {k: v for k, v in resource.items() if k in _ALWAYS or k in elements or _base(k) in mandatory}
    elif summary == "text":
        kept = {k: v for k, v in resource.items() if k in _ALWAYS or k == "text" or _base(k) in mandatory}
    elif summary == "true":
        marked = summary_elements(resource_type)
        kept = {k: v for k, v in resource.items() if k in _ALWAYS or _base(k) in mandatory or
                (k != "text" if marked is None else k in marked or _base(k) in marked)}
    elif summary == "data":
        kept = {k: v for k, v in resource.items() if k != "text"}
    else:
        return resource
    if len(kept) == len(resource):
        return resource
    meta = dict(kept.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    kept["meta"] = meta
    return kept


def _base(key: str) -> str:
    """The element name a JSON key belongs to (`_birthDate` -> `birthDate`)."""
    return key[1:] if key.startswith("_") else key


def page_url(base_url: str, path: str, params: list[tuple[str, str]], count: int, offset: int) -> str:
    """A paging link that repeats the search with another offset."""
    query = [*params, ("_count", str(count))]
    if offset:
        query.append(("_offset", str(offset)))
    return f"{base_url}/{path}?{urlencode(query)}"


def operation_outcome(issues: Sequence[Issue]) -> dict[str, Any]:
    """An OperationOutcome resource listing `issues`."""
    rendered = []
    for issue in issues:
        item: dict[str, Any] = {"severity": issue.severity, "code": issue.code, "diagnostics": issue.diagnostics}
        if issue.expression:
            item["expression"] = [issue.expression]
        rendered.append(item)
    return {"resourceType": "OperationOutcome", "issue": rendered}
