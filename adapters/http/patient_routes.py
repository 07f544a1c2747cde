"""`GET /fhir/Patient/{id}/$everything` over every linked record, and `GET /api/patients/{id}/summary`."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from engine.identity import unified, views
from engine.identity.summary import summary
from adapters.http.security import PrincipalDep, caller_of, require
from adapters.http.wire import check_accept, fhir_response

router = APIRouter()


def _base(request: Request) -> str:
    configured = request.app.state.container.settings.base_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/") + "/fhir"


def _params(request: Request) -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.query_params.multi_items() if k not in ("_format", "_pretty")]


@router.get("/fhir/Patient/{resource_id}/$everything")
def patient_everything(resource_id: str, request: Request, principal: PrincipalDep) -> Response:
    """Everything about the person: the compartments of all records linked to this member or golden id,
    the same clinical fact from several institutions listed once (the others named in an extension)."""
    check_accept(request)
    require(principal, "Patient", "r")
    request.state.audit_interaction = "operation"
    request.state.audit_entities = [f"Patient/{resource_id}"]
    services = request.app.state.container
    caller = caller_of(request, principal)
    query = unified.EverythingQuery.parse(_params(request), max_count=services.settings.max_page_size)
    resolved = views.resolve(services.identity, resource_id, caller)
    bodies, total = unified.everything(services.store, resolved, query, caller,
                                       lambda kind: principal.scopes.allows(kind, "r"))
    base = _base(request)
    path = f"{base}/Patient/{resource_id}/$everything"
    kept = [(k, v) for k, v in _params(request) if k not in ("_count", "_offset")]
    links = [{"relation": "self", "url": f"{path}?{urlencode([*kept, ('_count', query.count), ('_offset', query.offset)])}"}]
    if query.count and query.offset + query.count < total:
        links.append({"relation": "next", "url": f"{path}?" + urlencode(
            [*kept, ("_count", query.count), ("_offset", query.offset + query.count)])})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links}
    if bodies:
        bundle["entry"] = [{"fullUrl": f"{base}/{b['resourceType']}/{b['id']}", "resource": b,
                            "search": {"mode": "match"}} for b in bodies]
    return fhir_response(bundle)


@router.get("/api/patients/{resource_id}/summary")
def patient_summary(resource_id: str, request: Request, principal: PrincipalDep) -> Response:
    """Golden demographics with sources, identifiers per institution, problems, medications, allergies,
    recent encounters, latest vitals and labs with trends, immunizations."""
    require(principal, "Patient", "r")
    request.state.audit_interaction = "read"
    request.state.audit_entities = [f"Patient/{resource_id}"]
    services = request.app.state.container
    caller = caller_of(request, principal)
    resolved = views.resolve(services.identity, resource_id, caller)
    resources = [r for r in unified.compartments(services.store, resolved, caller)
                 if principal.scopes.allows(r.resource_type, "r")]
    return JSONResponse(summary(resolved, resources))
