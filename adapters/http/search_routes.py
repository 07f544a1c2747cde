"""`GET /api/search`: clinician search by words and meaning over the records the caller may see."""
from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from engine.errors import InvalidSearchRequest, Issue, ResourceNotFound
from engine.identity import views
from engine.identity.ports import is_golden
from engine.indexing.model import IndexFilter
from engine.indexing.search import clinical, parse_request
from engine.security.caller import Caller
from engine.security.principal import Principal
from adapters.http.security import PrincipalDep, caller_of, require

router = APIRouter()


def _linked(services, patients: tuple[str, ...], caller: Caller) -> tuple[str, ...]:
    """Each patient filter widened to every record linked to the same person that the caller may see."""
    widened: dict[str, None] = {}
    for reference in patients:
        widened[reference] = None
        try:
            resolved = views.resolve(services.identity, reference, caller)
        except ResourceNotFound:
            continue
        for member in resolved.member_ids:
            widened[f"Patient/{member}"] = None
    return tuple(widened)


@router.get("/api/search")
def clinician_search(request: Request, principal: PrincipalDep) -> JSONResponse:
    """Words and meaning search: `q`, `patient`, `type`, `since`, `until`, `source`, `mode`, `limit`, `offset`."""
    services = request.app.state.container
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    unknown = sorted(set(params) - {"q", "patient", "type", "since", "until", "source", "mode", "limit", "offset"})
    if unknown:
        raise InvalidSearchRequest(f"unknown parameter {unknown[0][:40]}",
                                   issues=[Issue("invalid", f"unknown parameter {unknown[0][:40]}", unknown[0][:40])])
    search = parse_request(params)
    for resource_type in search.filters.types:
        require(principal, resource_type, "s")
    if not search.filters.types and principal.scopes.types_allowing("s", "r") == frozenset():
        # 403 naming what is missing: the token may search nothing it can read
        require(principal, "*", "r" if principal.scopes.types_allowing("s") != frozenset() else "s")
    caller = caller_of(request, principal)
    if search.filters.patients:
        request.state.audit_entities = list(search.filters.patients)
        search = replace(search, filters=replace(search.filters,
                                                 patients=_linked(services, search.filters.patients, caller)))
    filters = _within_reach(search.filters, principal, caller)
    if filters is None:
        return JSONResponse({"results": [], "total": 0})
    search = replace(search, filters=filters)

    def visible(keys: list[str]) -> set[str]:
        pairs = [tuple(key.split("/", 1)) for key in keys]
        allowed = [(t, i) for t, i in pairs if principal.scopes.allows(t, "r")]
        with services.store.unit_of_work(read_only=True, visibility=caller.visibility) as uow:
            return {stored.key for stored in uow.read_many(allowed) if not is_golden(stored.body)}

    response = services.clinical_search.search(search, visible)
    return JSONResponse(response.to_json())


def _within_reach(filters: IndexFilter, principal: Principal, caller: Caller) -> IndexFilter | None:
    """The filters narrowed, inside both rankings, to what the caller may search and read: a patient-context
    token to its patient's records, limited scopes to their types. None when nothing is left."""
    context = caller.visibility.patient
    if context is not None:
        own = tuple(f"Patient/{p}" for p in (context, *caller.visibility.linked_patients))
        patients = tuple(p for p in filters.patients if p in own) if filters.patients else own
        if not patients:
            return None
        filters = replace(filters, patients=patients)
    searchable = principal.scopes.types_allowing("s", "r")
    if searchable is not None and not filters.types:
        types = tuple(sorted(searchable - set(clinical(filters).exclude_types)))
        if not types:
            return None
        filters = replace(filters, types=types)
    return filters
