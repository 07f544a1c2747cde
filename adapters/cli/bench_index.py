"""`tessera bench index --json`: Synthea resources from the outbox to searchable, against bare encoding."""
from __future__ import annotations

import contextlib
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from engine.indexing.embedding_cache import CachingEmbedder
from engine.indexing.ports import Embedder
from engine.security.caller import Caller
from engine.services.bulk_load import BulkLoader
from engine.settings import Settings, load_settings
from adapters.bootstrap import build_container, shared_embedder
from adapters.cli.bench_ingest import _database
from adapters.cli.local_services import LocalServices
from adapters.cli.sample_data import synthea_shaped


class RecordingEmbedder(Embedder):
    """Passes texts through to the model and remembers which ones it was asked to encode."""

    def __init__(self, inner: Embedder):
        self.inner = inner
        self.model_name = inner.model_name
        self.dimensions = inner.dimensions
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Encode through the model, recording the texts."""
        self.texts.extend(texts)
        return self.inner.embed(texts)


def model_embedder(settings: Settings) -> Embedder:
    """The bare model embedder (below the process-wide cache)."""
    shared = shared_embedder(settings.embedding_model, settings.embedding_backend, settings.embedding_cache_dir)
    return getattr(shared, "inner", shared)


@contextlib.contextmanager
def _elasticsearch() -> Iterator[str]:
    configured = load_settings().elasticsearch_url
    if configured:
        yield configured
        return
    with LocalServices("elasticsearch") as found:
        yield found["TESSERA_ELASTICSEARCH_URL"]


@contextlib.contextmanager
def profile(backend: str, folder: Path) -> Iterator[Settings]:
    """Settings for a fresh store and index: `embedded` (SQLite) or `elasticsearch` (PostgreSQL + ES)."""
    if backend == "embedded":
        yield Settings(data_dir=folder, database_url=f"sqlite:///{folder / 'bench.db'}", elasticsearch_url=None,
                       broker_url=None, search_indexing="off")
        return
    with _database("postgresql") as url, _elasticsearch() as es_url:
        yield Settings(data_dir=folder, database_url=url, elasticsearch_url=es_url, broker_url=None,
                       search_indexing="off", search_index_name=f"tessera-bench-{uuid.uuid4().hex[:10]}")


def load(container: Any, payloads: list[bytes]) -> int:
    """Write the bundles through the store (not timed); how many resources."""
    caller = Caller.institution_only("bench")

    def one(payload: bytes) -> int:
        return len(container.bundles.process(orjson.loads(payload), base_url="http://bench/fhir",
                                             source="urn:tessera:bench", caller=caller)["entry"])

    with ThreadPoolExecutor(max_workers=2) as pool:
        return sum(pool.map(one, payloads))


def load_files(container: Any, files: list[Path]) -> int:
    """Load Synthea files (patients and the hospital and practitioner files they refer to, in any order)
    through the bulk loader (not timed); how many resources the store then holds."""
    rejected: list[str] = []
    loader = BulkLoader(container.resources, container.bundles, caller=Caller.institution_only("bench"),
                        on_reject=lambda where, why: rejected.append(f"{where}: {why}"),
                        source="urn:tessera:bench", max_depth=container.settings.max_json_depth)
    for path in files:
        loader.load_json(str(path), path.read_bytes())
    loader.finish()
    if rejected:
        raise SystemExit(f"bench index: {len(rejected)} records rejected, e.g. {rejected[0][:300]}")
    return sum(container.store.counts_by_type().values())


def encode_only_rate(embedder: Embedder, texts: list[str]) -> float:
    """Texts per second of the bare model on `texts` (same process, same batch size)."""
    bare = getattr(embedder, "encode_only", None)
    if bare is not None:
        return float(bare(texts))
    started = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - started)


def run_backend(backend: str, payloads: list[bytes], files: list[Path] | None = None) -> dict[str, Any]:
    """Load, then time draining the outbox until the index holds everything; compare with bare encoding."""
    with tempfile.TemporaryDirectory() as folder, profile(backend, Path(folder)) as settings:
        container = build_container(settings, indexing_trigger=False)
        try:
            resources = load_files(container, files) if files else load(container, payloads)
            model = model_embedder(settings)
            model.embed(["warm-up"])
            recorder = RecordingEmbedder(model)
            container.indexing.embedder = CachingEmbedder(recorder)
            container.search_index.ensure()
            started = time.perf_counter()
            report = container.indexing.drain()
            container.search_index.refresh()
            seconds = time.perf_counter() - started
            indexed = sum(1 for _ in container.search_index.versions())
            distinct = len(set(recorder.texts))
            encode_rate = encode_only_rate(model, sorted(set(recorder.texts)))
            efficiency = (distinct / encode_rate) / seconds if seconds else 0.0
            row = {"backend": backend, "resources": resources, "indexed": indexed, "events": report.events,
                   "distinct_texts": distinct, "seconds": round(seconds, 3),
                   "resources_per_s": round(resources / seconds, 1),
                   "encode_only_texts_per_s": round(encode_rate, 1),
                   "pipeline_efficiency": round(efficiency, 3), "batches": report.batches}
            print(f"{backend}: {resources} resources ({distinct} distinct texts) indexed in {seconds:.2f}s = "  # noqa: T201
                  f"{resources / seconds:.0f}/s; bare encoding {encode_rate:.0f} texts/s; "
                  f"pipeline efficiency {efficiency:.2f}", file=sys.stderr)
            if backend == "elasticsearch":
                drop = getattr(container.search_index, "drop", None)
                if drop is not None:
                    drop()
            return row
        finally:
            container.close()


def bench_index(*, bundles: int = 80, backends: Sequence[str] = ("elasticsearch", "embedded"),
                data: str | None = None) -> dict[str, Any]:
    """Index `bundles` Synthea-shaped patient bundles (or every Synthea JSON file under `data`) per backend;
    the first backend's row is the headline."""
    files = sorted(Path(data).rglob("*.json")) if data else None
    if data and not files:
        raise SystemExit(f"bench index: no .json files under {data}")
    payloads = [] if files else synthea_shaped(bundles)
    results = [run_backend(backend, payloads, files) for backend in backends]
    headline = results[0]
    return {"benchmark": "index", "data": data or f"{bundles} generated Synthea-shaped bundles",
            **{k: headline[k] for k in (
        "backend", "resources", "distinct_texts", "resources_per_s", "encode_only_texts_per_s",
        "pipeline_efficiency")}, "results": results}
