"""Search pipeline fixtures: the embedded profile in-process, and the production profile with real
PostgreSQL, Redis, Celery worker processes and Elasticsearch."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from engine.settings import Settings
from adapters.bootstrap import Container, build_container
from adapters.http.app import create_app
from tests.integration.conftest import token_for
from tests.support.services import require

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TESSERA = str(Path(sys.executable).with_name("tessera"))
FHIR_JSON = {"content-type": "application/fhir+json"}
BROKER_DB = 7  # a Redis database of its own, flushed per test


def wait_for(condition: Callable[[], object], timeout_s: float, interval_s: float = 0.05) -> object:
    """Poll `condition` until it is truthy; fail the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_s} s")
        time.sleep(interval_s)


def client_for(container: Container) -> TestClient:
    """An HTTP client over the container, with a system token."""
    client = TestClient(create_app(container))
    client.headers["Authorization"] = f"Bearer {token_for(container, ttl_s=6 * 3600)}"  # modules may run long
    return client


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Container]:
    """The embedded profile: SQLite store, SQLite FTS5 + vector index, indexing on a background thread."""
    settings = Settings(data_dir=tmp_path, database_url=None, elasticsearch_url=None, broker_url=None,
                        search_indexing="in-process", index_sweep_seconds=1.0, jobs_inline=True)
    container = build_container(settings)
    yield container
    container.close()


class Production:
    """PostgreSQL store, Elasticsearch index of its own, Redis broker, Celery workers started on demand."""

    def __init__(self, database_url: str, broker_url: str, es_url: str, folder: Path):
        self.index_name = f"tessera-test-{uuid.uuid4().hex[:10]}"
        self.env = {**os.environ, "TESSERA_DATABASE_URL": database_url, "TESSERA_BROKER_URL": broker_url,
                    "TESSERA_ELASTICSEARCH_URL": es_url, "TESSERA_SEARCH_INDEX_NAME": self.index_name,
                    "TESSERA_DATA_DIR": str(folder), "TESSERA_SEARCH_INDEXING": "workers",
                    "TESSERA_INDEX_SWEEP_SECONDS": "1", "TESSERA_WORKER_VISIBILITY_TIMEOUT_S": "5"}
        self.folder = folder
        self.settings = Settings(data_dir=folder, database_url=database_url, broker_url=broker_url,
                                 elasticsearch_url=es_url, search_index_name=self.index_name,
                                 search_indexing="workers", index_sweep_seconds=1.0, jobs_inline=True,
                                 db_pool_size=4)
        self.container = build_container(self.settings, migrate=False)
        self.workers: list[subprocess.Popen] = []

    def start_worker(self, **overrides: str) -> subprocess.Popen:
        """A `tessera worker` process on the index queue (with the periodic sweep)."""
        log = open(self.folder / f"worker-{len(self.workers)}.log", "wb")  # noqa: SIM115 - closed with the process
        worker = subprocess.Popen([TESSERA, "worker", "--queues", "index", "--concurrency", "1", "--beat"],
                                  env={**self.env, **overrides}, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        self.workers.append(worker)
        return worker

    def kill(self, worker: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Signal the worker's whole process group and reap it."""
        try:
            os.killpg(worker.pid, sig)
        except ProcessLookupError:
            pass
        worker.wait(30)

    def close(self) -> None:
        """Stop the workers, drop the index, release the container."""
        for worker in self.workers:
            if worker.poll() is None:
                self.kill(worker, signal.SIGTERM)
        try:
            self.container.search_index.clear()
        except Exception:  # noqa: BLE001 - the index may already be gone
            pass
        drop = getattr(self.container.search_index, "drop", None)
        if drop is not None:
            drop()
        self.container.close()


@pytest.fixture
def production(postgres_factory, tmp_path: Path) -> Iterator[Production]:
    """The production profile with real services, its own database, Redis database and index."""
    es_url = require("TESSERA_ELASTICSEARCH_URL", "Elasticsearch")
    broker = require("TESSERA_BROKER_URL", "Redis")
    broker_url = broker.rsplit("/", 1)[0] + f"/{BROKER_DB}"
    redis.Redis.from_url(broker_url).flushdb()
    database_url = postgres_factory.create(tmp_path)
    services = Production(database_url, broker_url, es_url, tmp_path)
    yield services
    services.close()
    postgres_factory.drop(database_url)
    redis.Redis.from_url(broker_url).flushdb()
    shutil.rmtree(tmp_path / "celerybeat-schedule", ignore_errors=True)


class Stack:
    """One running profile for behaviour tests: the container, an HTTP client, and how indexing catches up."""

    def __init__(self, name: str, container: Container, production: Production | None = None):
        self.name = name
        self.container = container
        self.production = production
        self.client = client_for(container)

    def settle(self, timeout_s: float = 60.0) -> None:
        """Wait until every written event is in the index and searchable."""
        outbox = self.container.indexing.outbox
        if self.production is None:
            assert self.container.index_trigger is not None
            self.container.index_trigger.wait_idle(timeout_s)
        wait_for(lambda: outbox.pending() == 0, timeout_s)
        self.container.search_index.refresh()

    def post(self, body: dict) -> dict:
        """Create a resource through the API; its JSON."""
        response = self.client.post(f"/fhir/{body['resourceType']}", json=body, headers=FHIR_JSON)
        assert response.status_code == 201, response.text
        return response.json()

    def search(self, **params: object) -> dict:
        """GET /api/search; the JSON of a 200."""
        response = self.client.get("/api/search", params=params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module", params=["embedded", "production"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Each profile in turn: embedded (in-process indexing) and production (Celery worker, Elasticsearch)."""
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "embedded":
        settings = Settings(data_dir=folder, database_url=None, elasticsearch_url=None, broker_url=None,
                            search_indexing="in-process", index_sweep_seconds=1.0, jobs_inline=True)
        container = build_container(settings)
        yield Stack("embedded", container)
        container.close()
        return
    postgres_factory = request.getfixturevalue("postgres_factory")
    es_url = require("TESSERA_ELASTICSEARCH_URL", "Elasticsearch")
    broker = require("TESSERA_BROKER_URL", "Redis")
    broker_url = broker.rsplit("/", 1)[0] + f"/{BROKER_DB + 1}"
    redis.Redis.from_url(broker_url).flushdb()
    database_url = postgres_factory.create(folder)
    services = Production(database_url, broker_url, es_url, folder)
    services.start_worker()
    yield Stack("production", services.container, services)
    services.close()
    postgres_factory.drop(database_url)
    redis.Redis.from_url(broker_url).flushdb()
