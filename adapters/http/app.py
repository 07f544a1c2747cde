"""Create the FastAPI application around a service container."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from fastapi import FastAPI

from engine.settings import Settings
from adapters.bootstrap import Container, build_container
from adapters.http import allocation_routes, bulk_routes, fhir_routes, observability
from adapters.http import identity_routes, patient_routes, search_routes
from adapters.http.audit import install_audit
from adapters.http.errors import install_error_handlers
from adapters.http.security import install_rate_limit
from adapters.runtime_memory import settle_heap

RATE_LIMIT_FILE = "rate-limits.bin"  # beside the shared metrics: the server's processes share the buckets


def create_app(container: Container, *, metrics_dir: Path | None = None,
               on_close: Callable[[], None] | None = None) -> FastAPI:
    """The HTTP application: FHIR API at /fhir, /healthz, /metrics (shared by the processes writing to
    `metrics_dir`, when given); `on_close` runs when the server stops."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if on_close is not None:
            on_close()

    app = FastAPI(title="Tessera", version=fhir_routes.SOFTWARE_VERSION,
                  description="FHIR R4 health information integration engine", lifespan=lifespan)
    app.state.container = container
    install_error_handlers(app)
    install_audit(app)
    observability.install_metrics(app, metrics_dir)
    install_rate_limit(app, container.settings.rate_limit_per_minute,
                       metrics_dir / RATE_LIMIT_FILE if metrics_dir is not None else None)
    app.include_router(observability.router)
    app.include_router(allocation_routes.router)
    allocation_routes.install_schemas(app)
    app.include_router(bulk_routes.router)
    app.include_router(identity_routes.router)
    app.include_router(search_routes.router)
    app.include_router(patient_routes.router)  # before fhir_routes: /fhir/Patient/{id}/$everything
    app.include_router(fhir_routes.router)
    return app


def served_app(settings: Settings, *, migrate: bool = True, metrics_dir: Path | None = None) -> FastAPI:
    """The application a server process runs: its own container (closed when the server stops), indexing
    of what was written while no server ran, and the start-up heap kept out of later collections."""
    container = build_container(settings, migrate=migrate)
    if container.index_trigger is not None:
        container.index_trigger.nudge()
    app = create_app(container, metrics_dir=metrics_dir, on_close=container.close)
    settle_heap()
    return app
