"""Write one AuditEvent per request that touches /fhir or /api (success, refusal or failure alike)."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from engine.security.audit import audit_event, outcome_for_status

log = logging.getLogger("tessera.audit")
UNAUDITED = ("/fhir/metadata",)


def _interaction(request: Request) -> str:
    explicit = getattr(request.state, "audit_interaction", None)
    if explicit:
        return explicit
    route = getattr(request.scope.get("route"), "path", "")
    method = request.method
    if method == "GET":
        if route.endswith("/_history/{version_id}"):
            return "vread"
        if "_history" in route:
            return "history"
        return "read" if route.endswith("{resource_id}") else "search"
    if route.endswith("/_search"):
        return "search"
    return {"POST": "create", "PUT": "update", "DELETE": "delete"}.get(method, "operation")


def install_audit(app: FastAPI) -> None:
    """Audit every access to patient data; an audit failure is logged (without data), never hidden."""

    @app.middleware("http")
    async def _audit(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        try:
            response = await call_next(request)
        except Exception:
            response = Response(status_code=500)
            await _write(request, response)
            raise
        await _write(request, response)
        return response

    async def _write(request: Request, response: Response) -> None:
        path = request.url.path
        if not (path.startswith("/fhir") or path.startswith("/api")) or path in UNAUDITED:
            return
        container = request.app.state.container
        principal = getattr(request.state, "principal", None)
        interaction = _interaction(request)
        entities = list(getattr(request.state, "audit_entities", []) or [])
        query = str(request.url.query) if interaction == "search" and request.url.query else None
        event = audit_event(
            interaction=interaction,
            outcome=getattr(request.state, "audit_outcome", None) or outcome_for_status(response.status_code),
            recorded_us=container.clock(), client_id=principal.client_id if principal else None,
            institution=principal.institution if principal else None, user=principal.user if principal else None,
            entities=entities, query=query, path=path,
            break_glass_reason=principal.break_glass_reason if principal else None)
        try:
            await run_in_threadpool(container.audit.record, event,
                                    institution=principal.institution if principal else None)
        except Exception:  # noqa: BLE001 - never let auditing crash a response, but say so loudly
            log.exception("could not write the AuditEvent for a %s request", request.method)
