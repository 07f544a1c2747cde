"""`/api/identity`: golden records, links, the review queue and manual link/unlink (MDM)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from engine.errors import InvalidRequest, Issue, ResourceNotFound
from engine.identity import views
from engine.security.scopes import ADMIN_IDENTITY
from adapters.http.security import PrincipalDep, caller_of, require, require_product
from adapters.http.wire import read_json

router = APIRouter(prefix="/api/identity")
MAX_COUNT = 1000
MAX_OFFSET = 1_000_000_000


def _count(request: Request, name: str = "_count", default: int = 50) -> int:
    text = request.query_params.get(name, str(default))
    if not (text.isascii() and text.isdigit()):
        raise InvalidRequest(f"{name} must be a non-negative integer", issues=[Issue("invalid", "not a number", name)])
    return min(int(text), MAX_COUNT if name == "_count" else MAX_OFFSET)


def _reference(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{name} must be a Patient reference such as Patient/123",
                             issues=[Issue("required", f"{name} is required", name)])
    return views.patient_id(value.strip())


async def _json(request: Request) -> dict[str, Any]:
    services = request.app.state.container
    body = await read_json(request, max_bytes=services.settings.max_request_bytes,
                           max_depth=services.settings.max_json_depth)
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object")
    return body


def _actor(principal: Any) -> str:
    return principal.user or principal.client_id


@router.get("/golden-records")
def golden_records(request: Request, principal: PrincipalDep) -> Response:
    """Golden records with their (visible) members: every visible source Patient in exactly one item."""
    require(principal, "Patient", "s")
    count, offset = _count(request), _count(request, "_offset", 0)
    services = request.app.state.container
    items, more = views.golden_records(services.identity, caller_of(request, principal), offset=offset, count=count)
    next_url = None
    if more and count:
        next_url = f"{str(request.base_url).rstrip('/')}/api/identity/golden-records?" + urlencode(
            {"_count": count, "_offset": offset + count})
    return JSONResponse({"items": items, "next": next_url})


@router.get("/links")
def links(request: Request, principal: PrincipalDep, patient: str = "") -> Response:
    """The golden record of a Patient: members, link decisions, scores and explanations."""
    require(principal, "Patient", "r")
    wanted = _reference(patient, "patient")
    request.state.audit_entities = [f"Patient/{wanted}"]
    services = request.app.state.container
    return JSONResponse(views.link_view(services.identity, wanted, caller_of(request, principal)))


@router.post("/links")
async def manual_link(request: Request, principal: PrincipalDep) -> Response:
    """Manual link: {"patient": "Patient/a", "other": "Patient/b", "reason": "..."} (wins over matching)."""
    require_product(principal, ADMIN_IDENTITY)
    request.state.audit_interaction = "identity"
    body = await _json(request)
    left, right = _reference(body.get("patient"), "patient"), _reference(body.get("other"), "other")
    if left == right:
        raise InvalidRequest("A Patient cannot be linked to itself")
    services, caller = request.app.state.container, caller_of(request, principal)
    request.state.audit_entities = [f"Patient/{left}", f"Patient/{right}"]
    if len(views.visible_patients(services.identity, [left, right], caller)) != 2:
        raise ResourceNotFound("Both Patients must exist and be visible to the caller")
    await run_in_threadpool(services.identity.link, left, right, actor=_actor(principal),
                            reason=_reason(body))
    return JSONResponse(views.link_view(services.identity, left, caller))


@router.delete("/links")
async def manual_unlink(request: Request, principal: PrincipalDep) -> Response:
    """Manual unlink: ?patient=Patient/a[&other=Patient/b] or the same as a JSON body; wins over matching."""
    require_product(principal, ADMIN_IDENTITY)
    request.state.audit_interaction = "identity"
    body: dict[str, Any] = dict(request.query_params)
    if request.headers.get("content-type"):
        body.update(await _json(request))
    patient = _reference(body.get("patient"), "patient")
    other = _reference(body["other"], "other") if body.get("other") else None
    services, caller = request.app.state.container, caller_of(request, principal)
    request.state.audit_entities = [f"Patient/{patient}"] + ([f"Patient/{other}"] if other else [])
    if not views.visible_patients(services.identity, [patient], caller):
        raise ResourceNotFound(f"Patient/{patient} is not known")
    await run_in_threadpool(services.identity.unlink, patient, other=other, actor=_actor(principal),
                            reason=_reason(body))
    return JSONResponse(views.link_view(services.identity, patient, caller))


@router.get("/review")
def review_queue(request: Request, principal: PrincipalDep) -> Response:
    """Pairs the matcher found possible but not certain, waiting for a decision."""
    require_product(principal, ADMIN_IDENTITY)
    services = request.app.state.container
    return JSONResponse({"items": views.review_items(services.identity, caller_of(request, principal),
                                                     limit=_count(request))})


@router.post("/review/{item_id}")
async def review_decision(item_id: str, request: Request, principal: PrincipalDep) -> Response:
    """Decide a review item: {"decision": "match" | "no-match", "reason": "..."}."""
    require_product(principal, ADMIN_IDENTITY)
    request.state.audit_interaction = "identity"
    body = await _json(request)
    services, caller = request.app.state.container, caller_of(request, principal)
    pair = services.identity.repo.pair(item_id)
    if pair is None or len(views.visible_patients(services.identity, [pair.left_id, pair.right_id], caller)) != 2:
        raise ResourceNotFound("review item is not known")
    request.state.audit_entities = [f"Patient/{pair.left_id}", f"Patient/{pair.right_id}"]
    decided = await run_in_threadpool(services.identity.review, item_id, str(body.get("decision", "")),
                                      actor=_actor(principal), reason=_reason(body))
    return JSONResponse(views.pair_view(decided))


def _reason(body: dict[str, Any]) -> str | None:
    reason = body.get("reason")
    return reason[:1000] if isinstance(reason, str) else None
