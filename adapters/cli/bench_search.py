"""`tessera bench search --json`: words, meaning and hybrid latency over 100k+ indexed Synthea resources."""
from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from engine.indexing.embedding_cache import CachingEmbedder
from engine.indexing.model import IndexedDocument, IndexFilter, SourceVersion
from engine.indexing.search import ClinicalSearch, SearchRequest
from engine.indexing.synonyms import Synonyms
from adapters.bootstrap import build_container
from adapters.cli.bench_index import model_embedder, profile
from adapters.cli.sample_data import synthea_shaped

QUERIES = ("heart attack", "last A1c", "flu shot", "chest pain ER visit", "blood pressure", "sugar",
           "kidney function", "broken bone", "cholesterol", "allergy to penicillin", "asthma inhaler",
           "pregnancy", "depression screening", "COPD", "body mass index", "hypertension meds",
           "prediabetes", "sinusitis antibiotics", "well child visit", "colonoscopy")


def _resources(payloads: Sequence[bytes]) -> Iterator[dict[str, Any]]:
    """Every resource of the bundles, with `urn:uuid` references turned into `Type/id`."""
    for payload in payloads:
        bundle = orjson.loads(payload)
        names = {e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
                 for e in bundle["entry"] if e.get("fullUrl") and e["resource"].get("id")}
        text = orjson.dumps([e["resource"] for e in bundle["entry"]]).decode()
        for full_url, relative in names.items():
            text = text.replace(f'"{full_url}"', f'"{relative}"')
        yield from orjson.loads(text)


def fill(container: Any, documents: int, chunk: int = 1000) -> tuple[int, list[str], float]:
    """Index at least `documents` rendered and embedded Synthea resources; (count, patients, seconds)."""
    started = time.perf_counter()
    service = container.indexing
    service.index.ensure()
    count, patients, pending = 0, [], []
    bundles = 0
    while count < documents:
        batch = synthea_shaped(20, seed=7 + bundles)
        bundles += 20
        for body in _resources(batch):
            if body["resourceType"] == "Patient":
                patients.append(f"Patient/{body['id']}")
            pending.append(SourceVersion(body["resourceType"], body["id"], 1, False, body, "bench"))
            if len(pending) >= chunk:
                count += _apply(service, pending)
                pending = []
    if pending:
        count += _apply(service, pending)
    service.index.refresh()
    return count, patients, time.perf_counter() - started


def _apply(service: Any, sources: list[SourceVersion]) -> int:
    documents = service.documents(sources)
    vectors = service.embedder.embed([d.embed_text for d in documents])
    report = service.index.apply([IndexedDocument(d, vectors[i]) for i, d in enumerate(documents)], [])
    return report.indexed


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def measure(search: ClinicalSearch, patients: list[str], rounds: int, seed: int = 11) -> dict[str, Any]:
    """p50/p95 milliseconds per mode, over all queries, with and without a patient filter."""
    rng = random.Random(seed)
    timings: dict[str, list[float]] = {}
    for mode in ("words", "meaning", "hybrid"):
        for scope in ("all", "patient"):
            values = []
            for round_ in range(rounds):
                query = QUERIES[round_ % len(QUERIES)]
                filters = IndexFilter(patients=(rng.choice(patients),)) if scope == "patient" else IndexFilter()
                started = time.perf_counter()
                search.search(SearchRequest(q=query, filters=filters, mode=mode, limit=20))
                values.append((time.perf_counter() - started) * 1000)
            timings[f"{mode}/{scope}"] = values
    return {name: {"p50_ms": round(statistics.median(v), 2), "p95_ms": round(_percentile(v, 0.95), 2)}
            for name, v in timings.items()}


def run_backend(backend: str, documents: int, rounds: int) -> dict[str, Any]:
    """Fill a fresh index on `backend`, warm it, and time the queries."""
    with tempfile.TemporaryDirectory() as folder, profile(backend, Path(folder)) as settings:
        container = build_container(settings, indexing_trigger=False)
        try:
            model = model_embedder(settings)
            container.indexing.embedder = CachingEmbedder(model)
            count, patients, seconds = fill(container, documents)
            print(f"{backend}: indexed {count} documents in {seconds:.1f}s", file=sys.stderr)  # noqa: T201
            search = ClinicalSearch(container.search_index, model, Synonyms.load_default())  # queries not cached
            measure(search, patients, rounds=len(QUERIES))  # warm-up
            latencies = measure(search, patients, rounds)
            for name, figures in latencies.items():
                print(f"{backend} {name}: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms",  # noqa: T201
                      file=sys.stderr)
            encode = measure_encode(model, rounds)
            if backend == "elasticsearch":
                drop = getattr(container.search_index, "drop", None)
                if drop is not None:
                    drop()
            return {"backend": backend, "documents": count, "fill_seconds": round(seconds, 1),
                    "query_embedding": encode, "latency": latencies}
        finally:
            container.close()


def measure_encode(model: Any, rounds: int) -> dict[str, float]:
    """p50/p95 milliseconds of embedding one query (part of meaning and hybrid latency)."""
    values = []
    for round_ in range(rounds):
        started = time.perf_counter()
        model.embed([QUERIES[round_ % len(QUERIES)]])
        values.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(values), 2), "p95_ms": round(_percentile(values, 0.95), 2)}


def bench_search(*, documents: int = 100_000, rounds: int = 200,
                 backends: Sequence[str] = ("elasticsearch", "embedded")) -> dict[str, Any]:
    """Latency of each mode on each backend at `documents` indexed resources."""
    results = [run_backend(backend, documents, rounds) for backend in backends]
    return {"benchmark": "search", "documents": documents, "rounds": rounds, "results": results}
