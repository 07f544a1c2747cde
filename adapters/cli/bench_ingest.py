"""Ingest benchmark: Synthea-shaped transaction Bundles into SQLite and PostgreSQL vs bare validation."""
from __future__ import annotations

import contextlib
import multiprocessing
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from engine.fhir.release import model_class
from engine.settings import Settings, load_settings
from adapters.bootstrap import build_container
from adapters.cli.local_services import LocalServices
from adapters.cli.sample_data import synthea_shaped


def _validate_only(payloads: list[bytes]) -> tuple[int, float]:
    for entry in orjson.loads(payloads[0])["entry"]:  # warm-up, as for the ingest run
        model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    started, cpu = time.perf_counter(), time.process_time()
    count = 0
    for payload in payloads:
        for entry in orjson.loads(payload)["entry"]:
            resource = entry["resource"]
            model_class(resource["resourceType"]).model_validate(resource)
            count += 1
    cpu_seconds[0] = time.process_time() - cpu
    return count, time.perf_counter() - started


@contextlib.contextmanager
def _database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    configured = load_settings().database_url
    with contextlib.ExitStack() as stack:
        if not configured or configured.startswith("sqlite"):
            configured = stack.enter_context(LocalServices("postgres"))["TESSERA_DATABASE_URL"]
        name = f"tessera_bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(configured, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield sa.engine.make_url(configured).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


matching_done = [0.0]
cpu_seconds = [0.0]  # CPU time of the processes measured in the last phase (all their threads)


def _loader(url: str, data_dir: str, identity_matching: str, concurrency: int, warm_up: bytes,
            share: list[bytes], start: Any, results: Any) -> None:
    """One loading process, as one process of `tessera serve --processes N`: warm up, wait for the others,
    load its share of the bundles with `concurrency` clients, report (count, finished, matched, CPU s)."""
    from adapters.runtime_memory import settle_heap, tune_collector

    tune_collector()
    container = build_container(Settings(database_url=url, data_dir=Path(data_dir), search_indexing="off",
                                         identity_matching=identity_matching), migrate=False)

    def load(payload: bytes) -> int:
        result = container.bundles.process(orjson.loads(payload), base_url="http://bench/fhir")
        return len(result["entry"])

    try:
        load(warm_up)
        settle_heap()
        start.wait()
        cpu = time.process_time()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            count = sum(pool.map(load, share))
        finished = time.perf_counter()
        container.store.drain()  # background identity matching catches up
        results.put((count, finished, time.perf_counter(), time.process_time() - cpu))
    finally:
        container.close()


def _ingest(url: str, payloads: list[bytes], processes: int, concurrency: int,
            identity_matching: str) -> tuple[int, float]:
    """Load payloads[processes:] from `processes` processes (payloads[:processes] warm them up); the
    resources stored and the seconds from the common start until the last process finished."""
    from adapters.store.migrate import upgrade
    from adapters.store.sql_store import create_sql_engine

    engine = create_sql_engine(url, pool_size=1)
    upgrade(engine)
    engine.dispose()
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(processes + 1), context.Queue()
    measured = payloads[processes:]
    with tempfile.TemporaryDirectory() as folder:
        workers = [context.Process(target=_loader, args=(url, str(Path(folder) / str(i)), identity_matching,
                                                         concurrency, payloads[i], measured[i::processes], start,
                                                         results), daemon=True)
                   for i in range(processes)]
        for worker in workers:
            worker.start()
        try:
            start.wait(timeout=300)
            started = time.perf_counter()
            reports = [results.get(timeout=1800) for _ in workers]
        finally:
            for worker in workers:
                worker.join(60)
                if worker.is_alive():
                    worker.kill()
    if any(worker.exitcode != 0 for worker in workers):
        raise RuntimeError("a loading process failed")
    matching_done[0] = max(r[2] for r in reports) - started
    cpu_seconds[0] = sum(r[3] for r in reports)
    return sum(r[0] for r in reports), max(r[1] for r in reports) - started


def bench_ingest(*, bundles: int, backends: list[str], concurrency: int = 2, processes: int = 0,
                 identity_matching: str | None = None) -> dict[str, Any]:
    """Load `bundles` transaction Bundles per backend from as many processes as `tessera serve` runs there
    (or `processes`), each with `concurrency` clients; compare with bare validation in one process.

    Identity matching runs as deployed (TESSERA_IDENTITY_MATCHING) unless `identity_matching` says otherwise;
    the mode is part of the result.
    """
    from adapters.cli.main import server_processes

    identity_matching = identity_matching or load_settings().identity_matching
    results = []
    for backend in backends:
        with _database(backend) as url:
            loaders = server_processes(processes, url)
            payloads = synthea_shaped(bundles + loaders)
            validated, validate_seconds = _validate_only(payloads[loaders:])
            validate_cpu = cpu_seconds[0] / validated
            loaded, seconds = _ingest(url, payloads, loaders, concurrency, identity_matching)
        ingest_cpu = cpu_seconds[0] / loaded  # the database server's own CPU is not included
        validate_rate = validated / validate_seconds
        rate = loaded / seconds
        row = {"backend": backend, "processes": loaders, "concurrency": concurrency,
               "identity_matching": identity_matching,
               "seconds_until_matched": round(matching_done[0], 3), "resources": loaded, "seconds": round(seconds, 3),
               "resources_per_s": round(rate, 1), "validate_only_per_s": round(validate_rate, 1),
               "ratio": round(rate / validate_rate, 3), "cpu_us_per_resource": round(ingest_cpu * 1e6, 1),
               "validate_only_cpu_us_per_resource": round(validate_cpu * 1e6, 1),
               "cpu_ratio": round(validate_cpu / ingest_cpu, 3)}
        if identity_matching == "workers":
            row["seconds_until_matched"] = None  # the Celery workers match, outside this measurement
        print(f"{backend}: {loaded} resources in {seconds:.2f}s = {rate:.0f}/s from {loaders} process(es); "  # noqa: T201
              f"validation alone {validate_rate:.0f}/s; ratio {rate / validate_rate:.2f} "
              f"(identity matching {identity_matching})", file=sys.stderr)
        results.append(row)
    return {"benchmark": "ingest", "bundles": bundles, "results": results}
