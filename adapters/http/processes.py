"""The API served by several processes (`tessera serve --processes N`), each with its own container.

Python runs one thread at a time per process, so one process uses one core. uvicorn's supervisor starts the
processes, which share the listening socket, and restarts one that dies. The parent migrates the schema and
creates the signing key once, before any process starts, so they do not race for it. Request metrics are
shared through files in a folder of the data directory: `/metrics` of any process reports them all.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from engine.settings import Settings, load_settings

METRICS_FOLDER = "api-metrics"


def serve_processes(settings: Settings, processes: int, options: dict[str, Any]) -> int:
    """Serve the API from `processes` processes until stopped (uvicorn `options`: host, port, TLS, logging)."""
    import uvicorn

    from adapters.bootstrap import prepare_for_processes

    prepare_for_processes(settings)
    metrics = settings.data_dir / METRICS_FOLDER / str(os.getpid())
    _remove_stale(metrics.parent)
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)
    # the processes read their settings again; prometheus_client finds its shared folder by this name
    os.environ["TESSERA_METRICS_DIR"] = os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
    try:
        uvicorn.run("adapters.http.processes:process_app", factory=True, workers=processes, **options)
    finally:
        shutil.rmtree(metrics, ignore_errors=True)
    return 0


def _remove_stale(folder: Path) -> None:
    """Remove the metrics of servers that were killed before they could clean up (their process is gone)."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name.isdigit() and not _running(int(entry.name)):
            shutil.rmtree(entry, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        pass
    return True


def process_app() -> FastAPI:
    """The application of one API process (uvicorn's factory)."""
    from adapters.http.app import served_app
    from adapters.runtime_memory import tune_collector

    tune_collector()
    settings = load_settings()
    return served_app(settings, migrate=False, metrics_dir=settings.metrics_dir)
