"""Ingest benchmark: Synthea-shaped transaction Bundles into SQLite and PostgreSQL vs bare validation."""
from __future__ import annotations

import contextlib
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
cpu_seconds = [0.0]  # CPU time of this process in the last measured phase (all threads)


def _ingest(url: str, payloads: list[bytes], concurrency: int, identity_matching: str) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as folder:
        container = build_container(Settings(database_url=url, data_dir=Path(folder), search_indexing="off",
                                             identity_matching=identity_matching))

        def load(payload: bytes) -> int:
            result = container.bundles.process(orjson.loads(payload), base_url="http://bench/fhir")
            return len(result["entry"])

        try:
            load(payloads[0])  # warm-up
            started, cpu = time.perf_counter(), time.process_time()
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                count = sum(pool.map(load, payloads[1:]))
            seconds = time.perf_counter() - started
            container.store.drain()  # background identity matching catches up
            matching_done[0] = time.perf_counter() - started
            cpu_seconds[0] = time.process_time() - cpu
            return count, seconds
        finally:
            container.close()


def bench_ingest(*, bundles: int, backends: list[str], concurrency: int = 2,
                 identity_matching: str | None = None) -> dict[str, Any]:
    """Load `bundles` transaction Bundles per backend (`concurrency` clients); compare with bare validation.

    Identity matching runs as deployed (TESSERA_IDENTITY_MATCHING) unless `identity_matching` says otherwise;
    the mode is part of the result.
    """
    identity_matching = identity_matching or load_settings().identity_matching
    payloads = synthea_shaped(bundles + 1)
    results = []
    for backend in backends:
        validated, validate_seconds = _validate_only(payloads[1:])
        validate_cpu = cpu_seconds[0] / validated
        with _database(backend) as url:
            loaded, seconds = _ingest(url, payloads, concurrency, identity_matching)
        ingest_cpu = cpu_seconds[0] / loaded  # the database server's own CPU is not included
        validate_rate = validated / validate_seconds
        rate = loaded / seconds
        row = {"backend": backend, "concurrency": concurrency, "identity_matching": identity_matching,
               "seconds_until_matched": round(matching_done[0], 3), "resources": loaded, "seconds": round(seconds, 3),
               "resources_per_s": round(rate, 1), "validate_only_per_s": round(validate_rate, 1),
               "ratio": round(rate / validate_rate, 3), "cpu_us_per_resource": round(ingest_cpu * 1e6, 1),
               "validate_only_cpu_us_per_resource": round(validate_cpu * 1e6, 1),
               "cpu_ratio": round(validate_cpu / ingest_cpu, 3)}
        if identity_matching == "workers":
            row["seconds_until_matched"] = None  # the Celery workers match, outside this measurement
        print(f"{backend}: {loaded} resources in {seconds:.2f}s = {rate:.0f}/s; "  # noqa: T201
              f"validation alone {validate_rate:.0f}/s; ratio {rate / validate_rate:.2f} "
              f"(identity matching {identity_matching})", file=sys.stderr)
        results.append(row)
    return {"benchmark": "ingest", "bundles": bundles, "results": results}
