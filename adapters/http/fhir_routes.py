"""The FHIR R4 REST interactions under /fhir: thin handlers that call engine services."""
from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from engine.errors import InvalidRequest, Issue, MethodNotAllowed
from engine.security.scopes import AUDIT_READ
from engine.services.capability import capability_statement
from engine.services.presentation import operation_outcome
from engine.services.resources import WriteOutcome
from adapters.bootstrap import Container
from adapters.http.security import PrincipalDep, caller_of, require, require_product
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


APPEND_ONLY = ("AuditEvent",)


def _reads(request: Request, principal, resource_type: str, permission: str) -> None:
    require(principal, resource_type, permission)
    if resource_type == "AuditEvent":
        require_product(principal, AUDIT_READ)


def _writes(principal, resource_type: str, permission: str) -> None:
    if resource_type in APPEND_ONLY:
        raise MethodNotAllowed(f"{resource_type} is append-only and written by the server")
    require(principal, resource_type, permission)


def _audited(request: Request, *references: str) -> None:
    request.state.audit_entities = [r for r in references if r]


def _write_response(request: Request, outcome: WriteOutcome, success: int) -> Response:
    stored = outcome.stored
    if stored is not None:
        _audited(request, stored.key)
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
@router.post("/", include_in_schema=False)
async def transaction_or_batch(request: Request, services: ContainerDep, principal: PrincipalDep) -> Response:
    """Process a batch or transaction Bundle (each entry checked against the caller's scopes)."""
    check_accept(request)
    bundle = await _body(request, services)
    check_bundle_scopes(principal, bundle)
    source = bundle.get("meta", {}).get("source") if isinstance(bundle.get("meta"), dict) else None
    result = services.bundles.process(bundle, base_url=base_url(request),
                                      source=source or services.settings.default_source,
                                      caller=caller_of(request, principal))
    _audited(request, *[e.get("response", {}).get("location", "").split("/_history")[0]
                        for e in result.get("entry", [])])
    return fhir_response(result)


_METHOD_PERMISSION = {"GET": "r", "POST": "c", "PUT": "u", "DELETE": "d"}


def check_bundle_scopes(principal, bundle: dict) -> None:
    """Refuse (403) a batch or transaction holding an entry the caller's scopes do not allow."""
    for index, entry in enumerate(bundle.get("entry") or []):
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict) or not isinstance(request.get("url"), str):
            continue
        method = str(request.get("method", "")).upper()
        path, _, query = request["url"].lstrip("/").partition("?")
        resource_type = path.split("/")[0]
        permission = _METHOD_PERMISSION.get(method, "r")
        if method == "GET" and "/" not in path:
            permission = "s"
        if method in ("POST", "PUT", "DELETE") and resource_type in APPEND_ONLY:
            raise MethodNotAllowed(f"Bundle.entry[{index}]: {resource_type} is append-only")
        if method == "GET":
            _reads(None, principal, resource_type, permission)  # type: ignore[arg-type]
        else:
            require(principal, resource_type, permission)


@router.get("/_history")
def system_history(request: Request, services: ContainerDep, principal: PrincipalDep) -> Response:
    """History of every resource the caller may see (needs a `*.r` scope)."""
    require(principal, "*", "r")
    return fhir_response(services.history.history(resource_type=None, resource_id=None, params=_params(request),
                                                  base_url=base_url(request), caller=caller_of(request, principal)))


@router.get("/{resource_type}")
def search_type(resource_type: str, request: Request, services: ContainerDep, principal: PrincipalDep) -> Response:
    """Search one resource type."""
    check_accept(request)
    _reads(request, principal, resource_type, "s")
    strict = _prefers(request, "handling") == "strict"
    return fhir_response(services.search.search(resource_type, _params(request), base_url=base_url(request),
                                                strict=strict, caller=caller_of(request, principal)))


@router.post("/{resource_type}/_search")
async def search_post(resource_type: str, request: Request, services: ContainerDep,
                      principal: PrincipalDep) -> Response:
    """Search with parameters in an `application/x-www-form-urlencoded` body."""
    _reads(request, principal, resource_type, "s")
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/x-www-form-urlencoded":
        raise InvalidRequest("_search by POST needs an application/x-www-form-urlencoded body")
    raw = (await request.body()).decode("utf-8", errors="replace")
    params = _params(request) + parse_qsl(raw, keep_blank_values=True)
    strict = _prefers(request, "handling") == "strict"
    return fhir_response(services.search.search(resource_type, params, base_url=base_url(request), strict=strict,
                                                caller=caller_of(request, principal)))


@router.post("/{resource_type}")
async def create(resource_type: str, request: Request, services: ContainerDep, principal: PrincipalDep,
                 if_none_exist: Annotated[str | None, Header()] = None) -> Response:
    """Create a resource (conditionally with If-None-Exist)."""
    check_accept(request)
    _writes(principal, resource_type, "c")
    body = await _body(request, services)
    if body.get("resourceType") != resource_type:
        raise InvalidRequest(f"Body is a {str(body.get('resourceType'))[:40]}, the URL names {resource_type[:40]}",
                             issues=[Issue("invalid", "resourceType does not match the URL", "resourceType")])
    outcome = services.resources.create(body, source=services.settings.default_source, if_none_exist=if_none_exist,
                                        caller=caller_of(request, principal))
    return _write_response(request, outcome, 201 if outcome.created else 200)


@router.put("/{resource_type}")
async def conditional_update(resource_type: str, request: Request, services: ContainerDep,
                             principal: PrincipalDep) -> Response:
    """Update the one resource matching the criteria in the query string (or create it)."""
    _writes(principal, resource_type, "u")
    body = await _body(request, services)
    query = str(request.url.query)
    outcome = services.resources.conditional_update(resource_type, query, body,
                                                    source=services.settings.default_source,
                                                    caller=caller_of(request, principal))
    return _write_response(request, outcome, 201 if outcome.created else 200)


@router.delete("/{resource_type}")
def conditional_delete(resource_type: str, request: Request, services: ContainerDep,
                       principal: PrincipalDep) -> Response:
    """Delete the one resource matching the criteria in the query string."""
    _writes(principal, resource_type, "d")
    outcome = services.resources.conditional_delete(resource_type, str(request.url.query),
                                                    caller=caller_of(request, principal))
    _audited(request, outcome.stored.key if outcome.stored else "")
    return Response(status_code=204)


@router.get("/{resource_type}/_history")
def type_history(resource_type: str, request: Request, services: ContainerDep, principal: PrincipalDep) -> Response:
    """History of every resource of one type."""
    _reads(request, principal, resource_type, "r")
    return fhir_response(services.history.history(resource_type=resource_type, resource_id=None,
                                                  params=_params(request), base_url=base_url(request),
                                                  caller=caller_of(request, principal)))


@router.get("/{resource_type}/{resource_id}")
def read(resource_type: str, resource_id: str, request: Request, services: ContainerDep,
         principal: PrincipalDep) -> Response:
    """Read the current version (404 also when the caller may not see it)."""
    check_accept(request)
    _reads(request, principal, resource_type, "r")
    _audited(request, f"{resource_type}/{resource_id}")
    stored = services.resources.read(resource_type, resource_id, caller=caller_of(request, principal))
    etag_value = version_headers(stored)["ETag"]
    if request.headers.get("if-none-match") == etag_value:
        return Response(status_code=304, headers={"ETag": etag_value})
    return fhir_response(stored.body, headers=version_headers(stored))


@router.put("/{resource_type}/{resource_id}")
async def update(resource_type: str, resource_id: str, request: Request, services: ContainerDep,
                 principal: PrincipalDep, if_match: Annotated[str | None, Header()] = None) -> Response:
    """Update, or create with the client's id."""
    _writes(principal, resource_type, "u")
    _audited(request, f"{resource_type}/{resource_id}")
    body = await _body(request, services)
    outcome = services.resources.update(resource_type, resource_id, body, if_match=if_match,
                                        source=services.settings.default_source, caller=caller_of(request, principal))
    return _write_response(request, outcome, 201 if outcome.created else 200)


@router.delete("/{resource_type}/{resource_id}")
def delete(resource_type: str, resource_id: str, request: Request, services: ContainerDep,
           principal: PrincipalDep) -> Response:
    """Delete (a new version marked deleted)."""
    _writes(principal, resource_type, "d")
    _audited(request, f"{resource_type}/{resource_id}")
    outcome = services.resources.delete(resource_type, resource_id, caller=caller_of(request, principal))
    headers = {"ETag": version_headers(outcome.stored)["ETag"]} if outcome.stored else None
    return Response(status_code=204, headers=headers)


@router.get("/{resource_type}/{resource_id}/_history")
def instance_history(resource_type: str, resource_id: str, request: Request, services: ContainerDep,
                     principal: PrincipalDep) -> Response:
    """Every version of one resource."""
    _reads(request, principal, resource_type, "r")
    _audited(request, f"{resource_type}/{resource_id}")
    return fhir_response(services.history.history(resource_type=resource_type, resource_id=resource_id,
                                                  params=_params(request), base_url=base_url(request),
                                                  caller=caller_of(request, principal)))


@router.get("/{resource_type}/{resource_id}/_history/{version_id}")
def vread(resource_type: str, resource_id: str, version_id: str, request: Request,
          services: ContainerDep, principal: PrincipalDep) -> Response:
    """Read one version."""
    check_accept(request)
    _reads(request, principal, resource_type, "r")
    _audited(request, f"{resource_type}/{resource_id}")
    if not (version_id.isascii() and version_id.isdigit()):
        raise InvalidRequest("Version ids are positive integers")
    stored = services.resources.read(resource_type, resource_id, int(version_id), caller=caller_of(request, principal))
    return fhir_response(stored.body, headers=version_headers(stored))
