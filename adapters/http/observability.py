"""/healthz and /metrics (Prometheus): request counts and latencies, store sizes."""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

router = APIRouter()


class StoreSizeCollector:
    """Reports the number of current resources per type at scrape time."""

    def __init__(self, app: FastAPI):
        self.app = app

    def collect(self):  # noqa: ANN201 - prometheus collector protocol
        """Yield the store-size gauge."""
        gauge = GaugeMetricFamily("tessera_store_resources", "Current (non-deleted) resources by type",
                                  labels=["resource_type"])
        container = getattr(self.app.state, "container", None)
        if container is not None:
            for resource_type, count in sorted(container.store.counts_by_type().items()):
                gauge.add_metric([resource_type], count)
        yield gauge


def install_metrics(app: FastAPI, shared_dir: Path | None = None) -> None:
    """Count and time every request by route template (never by concrete URL, which may hold ids); with
    `shared_dir`, /metrics sums the counts of every process writing there."""
    registry = CollectorRegistry()
    requests = Counter("tessera_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry)
    latency = Histogram("tessera_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
                        registry=registry, buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
    if shared_dir is not None:  # the counters above write to files there; the exposition reads them all
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(shared_dir))
    registry.register(StoreSizeCollector(app))
    app.state.metrics_registry = registry

    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        requests.labels(request.method, template, str(response.status_code)).inc()
        latency.labels(request.method, template).observe(time.perf_counter() - started)
        return response


@router.get("/healthz")
def healthz(request: Request) -> Response:
    """200 when the store answers, 503 otherwise."""
    healthy = request.app.state.container.store.ping()
    return JSONResponse({"status": "ok" if healthy else "unavailable"}, status_code=200 if healthy else 503)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus exposition."""
    return Response(generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)
