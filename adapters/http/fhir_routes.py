"""The FHIR R4 REST interactions under /fhir: thin handlers that call engine services."""
from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from engine.errors import InvalidRequest, Issue
from engine.services.capability import capability_statement
from engine.services.presentation import operation_outcome
from engine.services.resources import WriteOutcome
from adapters.bootstrap import Container
from adapters.http.wire import check_accept, fhir_response, read_json, version_headers

router = APIRouter(prefix="/fhir")
SOFTWARE_VERSION = "0.1.0"


def container(request: Request) -> Container:
    """The application's service container."""
    return request.app.state.container


ContainerDep = Annotated[Container, Depends(container)]


def base_url(request: Request) -> str:
    """The absolute base URL of the FHIR endpoint."""
    configured = request.app.state.container.settings.base_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/") + "/fhir"


def _params(request: Request) -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.query_params.multi_items() if k not in ("_format", "_pretty")]


def _prefers(request: Request, key: str) -> str | None:
    for part in request.headers.get("prefer", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name.strip() == key:
            return value.strip().strip('"')
    return None


async def _body(request: Request, services: Container) -> dict:
    body = await read_json(request, max_bytes=services.settings.max_request_bytes,
                           max_depth=services.settings.max_json_depth)
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object", issues=[Issue("structure", "expected a JSON object")])
    return body


def _write_response(request: Request, outcome: WriteOutcome, success: int) -> Response:
    stored = outcome.stored
    if stored is None:
        return Response(status_code=204)
    headers = version_headers(stored, base_url(request))
    prefer = _prefers(request, "return")
    if prefer == "minimal":
        return Response(status_code=success, headers=headers)
    if prefer == "OperationOutcome":
        return fhir_response(operation_outcome([Issue("informational", f"{stored.key} version {stored.version}",
                                                      severity="information")]), success, headers)
    return fhir_response(stored.body, success, headers)


@router.get("/metadata")
def metadata(request: Request) -> Response:
    """The CapabilityStatement."""
    check_accept(request)
    return fhir_response(capability_statement(base_url(request), SOFTWARE_VERSION))


@router.post("")
async def transaction_or_batch(request: Request, services: ContainerDep) -> Response:
    """Process a batch or transaction Bundle."""
    check_accept(request)
    bundle = await _body(request, services)
    source = bundle.get("meta", {}).get("source") if isinstance(bundle.get("meta"), dict) else None
    result = services.bundles.process(bundle, base_url=base_url(request),
                                      source=source or services.settings.default_source)
    return fhir_response(result)


@router.get("/_history")
def system_history(request: Request, services: ContainerDep) -> Response:
    """History of every resource."""
    return fhir_response(services.history.history(resource_type=None, resource_id=None, params=_params(request),
                                                  base_url=base_url(request)))


@router.get("/{resource_type}")
def search_type(resource_type: str, request: Request, services: ContainerDep) -> Response:
    """Search one resource type."""
    check_accept(request)
    strict = _prefers(request, "handling") == "strict"
    return fhir_response(services.search.search(resource_type, _params(request), base_url=base_url(request),
                                                strict=strict))


@router.post("/{resource_type}/_search")
async def search_post(resource_type: str, request: Request, services: ContainerDep) -> Response:
    """Search with parameters in an `application/x-www-form-urlencoded` body."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/x-www-form-urlencoded":
        raise InvalidRequest("_search by POST needs an application/x-www-form-urlencoded body")
    raw = (await request.body()).decode("utf-8", errors="replace")
    params = _params(request) + parse_qsl(raw, keep_blank_values=True)
    strict = _prefers(request, "handling") == "strict"
    return fhir_response(services.search.search(resource_type, params, base_url=base_url(request), strict=strict))


@router.post("/{resource_type}")
async def create(resource_type: str, request: Request, services: ContainerDep,
                 if_none_exist: Annotated[str | None, Header()] = None) -> Response:
    """Create a resource (conditionally with If-None-Exist)."""
    check_accept(request)
    body = await _body(request, services)
    if body.get("resourceType") != resource_type:
        raise InvalidRequest(f"Body is a {str(body.get('resourceType'))[:40]}, the URL names {resource_type[:40]}",
                             issues=[Issue("invalid", "resourceType does not match the URL", "resourceType")])
    outcome = services.resources.create(body, source=services.settings.default_source, if_none_exist=if_none_exist)
    return _write_response(request, outcome, 201 if outcome.created else 200)


@router.put("/{resource_type}")
async def conditional_update(resource_type: str, request: Request, services: ContainerDep) -> Response:
    """Update the one resource matching the criteria in the query string (or create it)."""
    body = await _body(request, services)
    query = str(request.url.query)
    outcome = services.resources.conditional_update(resource_type, query, body,
                                                    source=services.settings.default_source)
    return _write_response(request, outcome, 201 if outcome.created else 200)


@router.delete("/{resource_type}")
def conditional_delete(resource_type: str, request: Request, services: ContainerDep) -> Response:
    """Delete the one resource matching the criteria in the query string."""
    services.resources.conditional_delete(resource_type, str(request.url.query))
    return Response(status_code=204)


@router.get("/{resource_type}/_history")
def type_history(resource_type: str, request: Request, services: ContainerDep) -> Response:
    """History of every resource of one type."""
    return fhir_response(services.history.history(resource_type=resource_type, resource_id=None,
                                                  params=_params(request), base_url=base_url(request)))


@router.get("/{resource_type}/{resource_id}")
def read(resource_type: str, resource_id: str, request: Request, services: ContainerDep) -> Response:
    """Read the current version."""
    check_accept(request)
    stored = services.resources.read(resource_type, resource_id)
    etag_value = version_headers(stored)["ETag"]
    if request.headers.get("if-none-match") == etag_value:
        return Response(status_code=304, headers={"ETag": etag_value})
    return fhir_response(stored.body, headers=version_headers(stored))


@router.put("/{resource_type}/{resource_id}")
async def update(resource_type: str, resource_id: str, request: Request, services: ContainerDep,
                 if_match: Annotated[str | None, Header()] = None) -> Response:
    """Update, or create with the client's id."""
    body = await _body(request, services)
    outcome = services.resources.update(resource_type, resource_id, body, if_match=if_match,
                                        source=services.settings.default_source)
    return _write_response(request, outcome, 201 if outcome.created else 200)


@router.delete("/{resource_type}/{resource_id}")
def delete(resource_type: str, resource_id: str, services: ContainerDep) -> Response:
    """Delete (a new version marked deleted)."""
    outcome = services.resources.delete(resource_type, resource_id)
    headers = {"ETag": version_headers(outcome.stored)["ETag"]} if outcome.stored else None
    return Response(status_code=204, headers=headers)


@router.get("/{resource_type}/{resource_id}/_history")
def instance_history(resource_type: str, resource_id: str, request: Request, services: ContainerDep) -> Response:
    """Every version of one resource."""
    return fhir_response(services.history.history(resource_type=resource_type, resource_id=resource_id,
                                                  params=_params(request), base_url=base_url(request)))


@router.get("/{resource_type}/{resource_id}/_history/{version_id}")
def vread(resource_type: str, resource_id: str, version_id: str, request: Request,
          services: ContainerDep) -> Response:
    """Read one version."""
    check_accept(request)
    if not version_id.isdigit():
        raise InvalidRequest("Version ids are positive integers")
    stored = services.resources.read(resource_type, resource_id, int(version_id))
    return fhir_response(stored.body, headers=version_headers(stored))
