"""`POST /fhir/$import`: bulk NDJSON upload, streamed line by line (never held whole in memory)."""
from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from engine.errors import InvalidRequest, Issue, TesseraError
from engine.services.presentation import operation_outcome
from adapters.http.security import PrincipalDep, caller_of, require
from adapters.http.wire import PayloadTooLarge, UnsupportedMediaType, fhir_response

router = APIRouter(prefix="/fhir")
NDJSON_TYPES = ("application/fhir+ndjson", "application/x-ndjson", "application/ndjson")
MAX_REPORTED = 100


def _store_line(services: Any, resource: Any, principal: Any, caller: Any) -> None:
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise InvalidRequest("each line must be a FHIR resource (a JSON object with resourceType)")
    source = services.settings.default_source
    if isinstance(resource.get("id"), str):
        require(principal, resource["resourceType"], "u")
        services.resources.update(resource["resourceType"], resource["id"], resource, source=source, caller=caller)
    else:
        require(principal, resource["resourceType"], "c")
        services.resources.create(resource, source=source, caller=caller)


@router.post("/$import")
async def bulk_import(request: Request, principal: PrincipalDep) -> Response:
    """Load NDJSON resources (one per line; with an id: update-or-create, without: create)."""
    services = request.app.state.container
    caller = caller_of(request, principal)
    request.state.audit_interaction = "create"
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in NDJSON_TYPES:
        raise UnsupportedMediaType("Content-Type must be application/fhir+ndjson")
    max_line = services.settings.max_request_bytes
    accepted, errors, number, pending = 0, [], 0, bytearray()

    async def handle(line: bytes) -> None:
        nonlocal accepted, number
        number += 1
        if not line.strip():
            return
        try:
            await run_in_threadpool(_store_line, services, orjson.loads(line), principal, caller)
            accepted += 1
        except orjson.JSONDecodeError:
            errors.append(Issue("structure", f"line {number}: not valid JSON", f"line {number}"))
        except TesseraError as exc:
            where = exc.issues[0].expression if exc.issues and exc.issues[0].expression else ""
            errors.append(Issue(exc.issue_code, f"line {number}: {exc.message[:200]}",
                                f"line {number}" + (f" {where}" if where else "")))

    async for chunk in request.stream():
        pending += chunk
        while (cut := pending.find(b"\n")) >= 0:
            line = bytes(pending[:cut])
            del pending[:cut + 1]
            await handle(line)
        if len(pending) > max_line:
            raise PayloadTooLarge(f"line {number + 1} exceeds {max_line} bytes")
    if pending:
        await handle(bytes(pending))
    summary = Issue("informational", f"{accepted} resources stored, {len(errors)} lines rejected",
                    severity="information")
    return fhir_response(operation_outcome([summary, *errors[:MAX_REPORTED]]), 200)
