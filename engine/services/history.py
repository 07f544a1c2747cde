"""History at instance, type and system level, as FHIR history Bundles."""
from __future__ import annotations

from typing import Any

from engine.errors import InvalidRequest, Issue, ResourceNotFound
from collections.abc import Callable

from engine.fhir.dates import format_instant, parse_range
from engine.fhir.validation import check_resource_type
from engine.security.caller import SYSTEM, Caller
from engine.services.presentation import etag, full_url, last_modified, page_url
from engine.store.ports import ResourceStore


class HistoryService:
    """Reads version history from the store."""

    def __init__(self, store: ResourceStore, *, default_count: int = 50, max_count: int = 1000,
                 clock: Callable[[], int] | None = None):
        self.store = store
        self.clock = clock
        self.default_count = default_count
        self.max_count = max_count

    def history(self, *, resource_type: str | None, resource_id: str | None, params: list[tuple[str, str]],
                base_url: str, caller: Caller = SYSTEM) -> dict[str, Any]:
        """A history Bundle, newest first, honouring `_since`, `_count` and `_offset`."""
        if resource_type is not None:
            check_resource_type({"resourceType": resource_type})
        since, count, offset, till = None, self.default_count, 0, None
        for name, value in params:
            if name == "_till":  # paging snapshot: later pages ignore versions written after the first
                bounds = parse_range(value)
                if bounds is None:
                    raise InvalidRequest("_till must be a FHIR instant",
                                         issues=[Issue("invalid", f"'{value[:40]}' is not an instant", "_till")])
                till = bounds[1]
            if name == "_since":
                bounds = parse_range(value)
                if bounds is None:
                    raise InvalidRequest("_since must be a FHIR instant",
                                         issues=[Issue("invalid", f"'{value[:40]}' is not an instant", "_since")])
                since = bounds[0]
            elif name in ("_count", "_offset"):
                if not (value.isascii() and value.isdigit()):
                    raise InvalidRequest(f"{name} must be a non-negative integer",
                                         issues=[Issue("invalid", "not a non-negative integer", name)])
                if name == "_count":
                    count = min(int(value), self.max_count)
                else:
                    offset = int(value)
        with self.store.unit_of_work(read_only=True, visibility=caller.visibility) as uow:
            if resource_id is not None and (uow.current(resource_type or "", resource_id) is None or
                                            _hidden(uow, resource_type or "", resource_id)):
                raise ResourceNotFound(f"{resource_type}/{resource_id} is not known")
            if till is None and self.clock is not None:
                till = self.clock()
            page = uow.history(resource_type=resource_type, resource_id=resource_id, since_us=since,
                               till_us=till, count=count, offset=offset)
        path = "/".join(p for p in (resource_type, resource_id, "_history") if p)
        kept = [(n, v) for n, v in params if n == "_since"]
        if till is not None:
            kept.append(("_till", format_instant(till)))
        links = [{"relation": "self", "url": page_url(base_url, path, kept, count, offset)}]
        if count and page.total is not None and offset + len(page.items) < page.total:
            links.append({"relation": "next", "url": page_url(base_url, path, kept, count, offset + count)})
        if offset:
            links.append({"relation": "previous", "url": page_url(base_url, path, kept, count, max(0, offset - count))})
        entries = []
        for stored in page.items:
            entry: dict[str, Any] = {"fullUrl": full_url(base_url, stored)}
            if stored.body is not None:
                entry["resource"] = stored.body
            method = {"create": "POST", "update": "PUT", "delete": "DELETE"}[stored.method]
            url = stored.resource_type if method == "POST" else stored.key
            entry["request"] = {"method": method, "url": url}
            entry["response"] = {"status": {"create": "201 Created", "update": "200 OK",
                                            "delete": "204 No Content"}[stored.method],
                                 "etag": etag(stored.version), "lastModified": last_modified(stored)}
            entries.append(entry)
        bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "history", "total": page.total, "link": links}
        if entries:
            bundle["entry"] = entries
        return bundle


def _hidden(uow, resource_type: str, resource_id: str) -> bool:
    """True when the resource exists but the unit of work's visibility hides its current version."""
    return uow.read(resource_type, resource_id) is None
