"""Authentication (bearer JWT), SMART scope checks and per-client rate limits for the HTTP API."""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from engine.errors import Forbidden, Issue, Unauthenticated
from engine.security.caller import Caller
from engine.security.principal import Principal
from engine.security.scopes import BREAK_GLASS, parse_scopes, required_scope
from engine.services.presentation import operation_outcome
from adapters.http.rate_limit import RateLimiter, SharedRateLimiter
from adapters.http.wire import fhir_response

SYSTEM_SCOPES = "system/*.cruds tessera/identity.admin tessera/audit.read tessera/allocation.cruds"


def authenticate(request: Request) -> Principal:
    """The caller of this request (401 without a valid bearer token, unless auth is switched off)."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    container = request.app.state.container
    settings = container.settings
    header = request.headers.get("authorization", "")
    if not settings.auth_required and not header:
        principal = Principal(client_id="anonymous-development", institution=settings.default_institution,
                              scopes=parse_scopes(SYSTEM_SCOPES))
    else:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("missing bearer token")
        principal = container.tokens.principal(token.strip())
    reason = request.headers.get("x-break-glass")
    if reason:
        if not principal.scopes.has(BREAK_GLASS):
            raise Forbidden(f"Break-the-glass needs scope {BREAK_GLASS}",
                            issues=[Issue("forbidden", f"missing scope {BREAK_GLASS}", "X-Break-Glass")])
        principal = dataclasses.replace(principal, break_glass_reason=reason.strip()[:200] or "unspecified")
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def caller_of(request: Request, principal: Principal) -> Caller:
    """The engine's view of the caller (institution and read visibility)."""
    return Caller.of(principal, consent_default=request.app.state.container.settings.consent_default)


def require(principal: Principal, resource_type: str, permission: str) -> None:
    """403 naming the missing scope unless the principal may `permission` (c r u d s) on the type."""
    if not principal.scopes.allows(resource_type, permission):
        needed = required_scope(resource_type, permission)
        raise Forbidden(f"Missing scope: {needed} (or broader)",
                        issues=[Issue("forbidden", f"missing scope {needed}", resource_type)])


def require_product(principal: Principal, scope: str) -> None:
    """403 unless the principal carries a product scope (e.g. identity review)."""
    if not principal.scopes.has(scope):
        raise Forbidden(f"Missing scope: {scope}", issues=[Issue("forbidden", f"missing scope {scope}")])


def install_rate_limit(app: FastAPI, per_minute: int, shared_file: Path | None = None) -> None:
    """429 with Retry-After when one client (token, or address without one) exceeds its rate; the buckets
    are in `shared_file` when the server's processes share them."""
    limiter = RateLimiter(per_minute) if shared_file is None else SharedRateLimiter(per_minute, shared_file)

    @app.middleware("http")
    async def _limit(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path in ("/healthz", "/metrics"):
            return await call_next(request)
        credential = request.headers.get("authorization") or (request.client.host if request.client else "?")
        key = hashlib.sha256(credential.encode()).hexdigest()
        wait = limiter.take(key)
        if wait > 0:
            body = operation_outcome([Issue("throttled", "Too many requests; retry later")])
            return fhir_response(body, 429, {"Retry-After": str(int(wait) + 1)})
        return await call_next(request)
