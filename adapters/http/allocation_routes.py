"""`/api/allocation-jobs`: submit, inspect, list and cancel allocation jobs (staffing, beds, scheduling)."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from engine import allocation
from engine.security.scopes import ALLOCATION
from adapters.http.security import PrincipalDep, caller_of, require_product

router = APIRouter(prefix="/api/allocation-jobs", tags=["allocation"])


class JobOptions(BaseModel):
    """How to solve: a time limit and an acceptable relative MIP gap."""

    time_limit_s: float = Field(60.0, gt=0, le=600, description="Hard time limit of the solve, in seconds.")
    gap: float = Field(0.01, ge=0, lt=1, description="Relative optimality gap at which the solver may stop.")


class JobRequest(BaseModel):
    """An allocation job. `problem` follows the schema of its kind (see the examples and components)."""

    kind: Literal["staffing", "beds", "scheduling"]
    problem: dict[str, Any] = Field(description="Problem of the given kind; for staffing, `census` may be "
                                                "\"from-store\" to derive it from in-progress Encounters.")
    options: JobOptions = Field(default_factory=JobOptions)


def _examples() -> dict[str, dict[str, Any]]:
    return {kind: {"summary": f"A small {kind} problem",
                   "value": {"kind": kind, "problem": allocation.problem_example(kind),
                             "options": {"time_limit_s": 10, "gap": 0.01}}}
            for kind in allocation.KINDS}


@router.post("", status_code=202, responses={202: {"description": "Queued; poll the job."}})
def submit_job(request: Request, principal: PrincipalDep,
               job: Annotated[JobRequest, Body(openapi_examples=_examples())]) -> Response:
    """Queue a job; malformed problems answer 422 naming each bad field's path."""
    require_product(principal, ALLOCATION)
    services = request.app.state.container
    created = services.allocation_jobs.submit(job.kind, job.problem, job.options.model_dump(),
                                              caller=caller_of(request, principal), client_id=principal.client_id)
    request.state.audit_interaction = "operation"
    return JSONResponse(created.to_dict(), status_code=202,
                        headers={"Location": f"{request.url.path.rstrip('/')}/{created.id}"})


@router.get("")
def list_jobs(request: Request, principal: PrincipalDep, limit: int = 100) -> Response:
    """The caller's institution's jobs, newest first (without results)."""
    require_product(principal, ALLOCATION)
    jobs = request.app.state.container.allocation_jobs.list(caller=caller_of(request, principal),
                                                            limit=max(1, min(limit, 1000)))
    return JSONResponse({"items": [{k: v for k, v in j.to_dict().items() if k != "result"} for j in jobs]})


@router.get("/{job_id}")
def get_job(job_id: str, request: Request, principal: PrincipalDep) -> Response:
    """Status, result and explanation of one job."""
    require_product(principal, ALLOCATION)
    job = request.app.state.container.allocation_jobs.get(job_id, caller=caller_of(request, principal))
    return JSONResponse(job.to_dict())


@router.delete("/{job_id}")
def cancel_job(job_id: str, request: Request, principal: PrincipalDep) -> Response:
    """Cancel a job that has not finished."""
    require_product(principal, ALLOCATION)
    job = request.app.state.container.allocation_jobs.cancel(job_id, caller=caller_of(request, principal))
    return JSONResponse(job.to_dict())


def install_schemas(app: Any) -> None:
    """Publish each kind's problem JSON schema in the OpenAPI document's components."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = original()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for kind in allocation.KINDS:
            schema = allocation.problem_schema(kind)
            for name, definition in schema.pop("$defs", {}).items():
                schemas.setdefault(name, definition)
            schemas[f"{kind.capitalize()}Problem"] = _rebase(schema)
        app.openapi_schema = document
        return document

    app.openapi = openapi


def _rebase(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" and isinstance(v, str)
                    else _rebase(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(v) for v in node]
    return node
