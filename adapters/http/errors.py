"""Translate every error into an OperationOutcome with the right status; never leak internals."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.errors import Issue, TesseraError, Unauthenticated
from engine.services.presentation import operation_outcome
from adapters.http.wire import fhir_response

log = logging.getLogger("tessera.http")


def outcome_response(status: int, issues: list[Issue], headers: dict[str, str] | None = None) -> Response:
    """An OperationOutcome response."""
    return fhir_response(operation_outcome(issues), status, headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that keep every error in OperationOutcome shape."""

    @app.exception_handler(TesseraError)
    async def _engine_error(_request: Request, exc: TesseraError) -> Response:
        if isinstance(exc, Unauthenticated):  # no detail that would help an attacker
            return outcome_response(401, [Issue("login", "Authentication required")],
                                    {"WWW-Authenticate": 'Bearer realm="tessera", error="invalid_token"'})
        return outcome_response(exc.status, exc.issues)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
        issues = [Issue("invalid", str(error.get("msg", "invalid"))[:200],
                        ".".join(str(p) for p in error.get("loc", ()))) for error in exc.errors()[:20]]
        return outcome_response(422, issues)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not-found", 405: "not-supported"}.get(exc.status_code, "processing")
        return outcome_response(exc.status_code, [Issue(code, str(exc.detail)[:200])],
                                dict(exc.headers) if exc.headers else None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return outcome_response(500, [Issue("exception", "Internal server error")])
