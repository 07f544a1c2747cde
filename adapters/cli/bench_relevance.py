"""`tessera bench relevance --json`: nDCG@10 and recall@50 of clinician search over the Synthea patients.

Every query is asked about one patient's chart (the `patient` filter); its judgments are computed from the
codes of that patient's loaded resources by the query's rules, so they are reproducible from the data.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from engine.indexing.model import IndexFilter
from engine.indexing.relevance import Judgment, mean_by_name, ndcg_at, recall_at
from engine.indexing.search import SearchRequest
from engine.security.caller import Caller
from engine.settings import Settings, load_settings

SYNTHEA_SYSTEM = "https://github.com/synthetichealth/synthea"
MODES = ("words", "meaning", "hybrid")
NDCG_DEPTH = 10
RECALL_DEPTH = 50
REPOSITORY = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPOSITORY.parent / "shared" / "data" / "fhir-r4" / "synthea"
DEFAULT_QUERIES = REPOSITORY / "tests" / "relevance" / "queries.json"
_PATIENT_ELEMENTS = ("subject", "patient")


@dataclass
class Chart:
    """One patient's loaded resources: server key -> the resource as the file holds it."""

    patient: str  # "Patient/{server id}"
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_full_url: dict[str, dict[str, Any]] = field(default_factory=dict)

    def judge(self, judgment: Judgment) -> dict[str, int]:
        """The grade of every resource of the chart that the judgment finds relevant."""
        grades = {key: judgment.grade(resource, self.by_full_url.get) for key, resource in self.resources.items()}
        return {key: grade for key, grade in grades.items() if grade}


@dataclass(frozen=True)
class Query:
    """One clinician query: its text, the patient (Synthea identifier) and its judgment rules."""

    id: str
    q: str
    patient: str
    style: str
    rule: str
    judgment: Judgment

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Query":
        """A query from the query set's JSON."""
        return cls(data["id"], data["q"], data["patient"], data.get("style", ""), data["rule"],
                   Judgment.from_json(data))


@dataclass
class QueryResult:
    """How each mode ranked one query's judged resources."""

    query: Query
    grades: dict[str, int]
    ranked: dict[str, list[str]]
    ndcg: dict[str, float]
    recall: dict[str, float]


@dataclass
class Evaluation:
    """Per-query results and their means, with the time each stage took."""

    results: list[QueryResult]
    backend: str
    load_seconds: float
    index_seconds: float
    search_seconds: float

    @property
    def ndcg(self) -> dict[str, float]:
        """Mean nDCG@10 by mode."""
        return mean_by_name(r.ndcg for r in self.results)

    @property
    def recall(self) -> dict[str, float]:
        """Mean recall@50 by mode."""
        return mean_by_name(r.recall for r in self.results)


def read_queries(path: Path) -> list[Query]:
    """The query set; ids must be unique."""
    queries = [Query.from_json(item) for item in orjson.loads(path.read_bytes())["queries"]]
    seen: set[str] = set()
    for query in queries:
        if query.id in seen:
            raise ValueError(f"{path}: query id {query.id!r} appears twice")
        seen.add(query.id)
    return queries


def bundle_files(folder: Path) -> list[Path]:
    """The Synthea bundles in loading order: hospital and practitioner bundles first, then the patients."""
    if not folder.is_dir():
        raise FileNotFoundError(f"no Synthea folder at {folder}")
    paths = sorted(folder.glob("*.json")) + sorted(folder.glob("*/*.json"))
    hospitals = [p for p in paths if p.name.startswith("hospitalInformation")]
    practitioners = [p for p in paths if p.name.startswith("practitionerInformation")]
    shared = set(hospitals) | set(practitioners)
    return hospitals + practitioners + [p for p in paths if p not in shared]


def _identifier(resource: Mapping[str, Any], system: str) -> str | None:
    for identifier in resource.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == system:
            return identifier.get("value")
    return None


def _in_compartment(resource: Mapping[str, Any], patient_url: str) -> bool:
    return any(isinstance(resource.get(name), dict) and resource[name].get("reference") == patient_url
               for name in _PATIENT_ELEMENTS)


def load_charts(container: Any, folder: Path, institution: str) -> dict[str, Chart]:
    """Load every bundle through the bundle service; each patient's chart by Synthea identifier."""
    caller = Caller.institution_only(institution)
    charts: dict[str, Chart] = {}
    for path in bundle_files(folder):
        raw = path.read_bytes()
        entries = orjson.loads(raw).get("entry") or []
        answer = container.bundles.process(orjson.loads(raw), base_url="http://bench/fhir",
                                           source="urn:tessera:bench-relevance", caller=caller)
        keys = []
        for entry, response in zip(entries, answer["entry"], strict=True):
            status = str(response["response"].get("status", ""))
            if not status.startswith("2"):
                raise RuntimeError(f"{path.name}: {entry['resource'].get('resourceType')} was refused: {status}")
            keys.append(response["response"]["location"].split("/_history", 1)[0])
        patients = [(e, k) for e, k in zip(entries, keys) if e["resource"].get("resourceType") == "Patient"]
        if len(patients) != 1:
            continue  # a bundle of shared resources (organizations, practitioners)
        patient_entry, patient_key = patients[0]
        synthea_id = _identifier(patient_entry["resource"], SYNTHEA_SYSTEM)
        if not synthea_id:
            raise RuntimeError(f"{path.name}: the Patient has no Synthea identifier")
        chart = Chart(patient_key)
        for entry, key in zip(entries, keys):
            if entry.get("fullUrl"):
                chart.by_full_url[entry["fullUrl"]] = entry["resource"]
            if _in_compartment(entry["resource"], patient_entry.get("fullUrl", "")):
                chart.resources[key] = entry["resource"]
        charts[synthea_id] = chart
    return charts


def rank(container: Any, query: Query, patient: str, mode: str) -> list[str]:
    """The `Type/id` keys the clinician search returns for the query in one mode, best first."""
    request = SearchRequest(q=query.q, filters=IndexFilter(patients=(patient,)), mode=mode, limit=RECALL_DEPTH)
    return [f"{r.resource_type}/{r.resource_id}" for r in container.clinical_search.search(request).results]


def score(container: Any, queries: Sequence[Query], charts: Mapping[str, Chart],
          modes: Sequence[str] = MODES) -> list[QueryResult]:
    """Run every query in every mode and score the rankings against the computed judgments."""
    results = []
    for query in queries:
        chart = charts.get(query.patient)
        if chart is None:
            raise LookupError(f"query {query.id}: no patient with Synthea identifier {query.patient} was loaded")
        grades = chart.judge(query.judgment)
        ranked = {mode: rank(container, query, chart.patient, mode) for mode in modes}
        results.append(QueryResult(query, grades, ranked,
                                   {m: ndcg_at(ranked[m], grades, NDCG_DEPTH) for m in modes},
                                   {m: recall_at(ranked[m], grades, RECALL_DEPTH) for m in modes}))
    return results


def embedded_settings(folder: Path) -> Settings:
    """The embedded profile in `folder`: SQLite store, embedded index, indexing left to the caller."""
    return Settings(data_dir=folder, database_url=None, elasticsearch_url=None, broker_url=None,
                    search_indexing="off")


def bench_settings(backend: str, folder: Path) -> Settings:
    """Settings for a fresh store in `folder` and a fresh index (embedded, or a throwaway Elasticsearch one)."""
    if backend == "embedded":
        return embedded_settings(folder)
    url = load_settings().elasticsearch_url
    if not url:
        raise SystemExit("bench relevance --index-backend elasticsearch needs TESSERA_ELASTICSEARCH_URL")
    return Settings(data_dir=folder, database_url=None, elasticsearch_url=url, broker_url=None,
                    search_indexing="off", search_index_name=f"tessera-relevance-{uuid.uuid4().hex[:10]}")


def evaluate(data: Path, queries: Sequence[Query], *, backend: str = "embedded") -> Evaluation:
    """Load the data into a fresh store and index, drain the index and score every query."""
    from adapters.bootstrap import build_container

    with tempfile.TemporaryDirectory(prefix="tessera-relevance-") as folder:
        container = build_container(bench_settings(backend, Path(folder)))
        try:
            started = time.perf_counter()
            charts = load_charts(container, data, container.settings.default_institution)
            loaded = time.perf_counter()
            container.indexing.drain()
            container.search_index.refresh()
            indexed = time.perf_counter()
            results = score(container, queries, charts)
            searched = time.perf_counter()
        finally:
            drop = getattr(container.search_index, "drop", None)
            if backend != "embedded" and drop is not None:
                drop()
            container.close()
    return Evaluation(results, backend, loaded - started, indexed - loaded, searched - indexed)


def table(evaluation: Evaluation) -> str:
    """The per-query table (id, judged counts, nDCG@10 per mode), then the means by query style and overall."""
    lines = [f"{'query':<24} {'text':<24} {'exact':>5} {'rel':>4}  "
             + "  ".join(f"{m:>7}" for m in MODES) + "   (nDCG@10)"]
    for result in evaluation.results:
        exact = sum(1 for g in result.grades.values() if g == 2)
        related = len(result.grades) - exact
        lines.append(f"{result.query.id:<24} {result.query.q[:24]:<24} {exact:>5} {related:>4}  "
                     + "  ".join(f"{result.ndcg[m]:>7.3f}" for m in MODES))
    for style in sorted({r.query.style for r in evaluation.results}):
        rows = [r.ndcg for r in evaluation.results if r.query.style == style]
        means = mean_by_name(rows)
        lines.append(f"{f'mean nDCG@10, {style} ({len(rows)})':<60}" + "  ".join(f"{means[m]:>7.3f}" for m in MODES))
    ndcg, recall = evaluation.ndcg, evaluation.recall
    lines.append(f"{'mean nDCG@10':<60}" + "  ".join(f"{ndcg[m]:>7.3f}" for m in MODES))
    lines.append(f"{'mean recall@50':<60}" + "  ".join(f"{recall[m]:>7.3f}" for m in MODES))
    return "\n".join(lines)


def summary(evaluation: Evaluation, seconds: float) -> dict[str, Any]:
    """The JSON summary line."""
    return {"bench": "relevance", "queries": len(evaluation.results),
            "ndcg@10": {m: round(v, 4) for m, v in evaluation.ndcg.items()},
            "recall@50": {m: round(v, 4) for m, v in evaluation.recall.items()},
            "backend": evaluation.backend, "seconds": round(seconds, 1)}


def bench_relevance(*, data: str | None = None, queries: str | None = None,
                    backend: str = "embedded") -> dict[str, Any]:
    """Run the relevance evaluation, print the per-query table, and return the JSON summary."""
    folder = Path(data) if data else DEFAULT_DATA
    if not folder.is_dir():
        raise SystemExit(f"bench relevance: no Synthea data at {folder}; pass --data PATH "
                         "(a folder of Synthea transaction bundles, searched one level deep)")
    started = time.perf_counter()
    evaluation = evaluate(folder, read_queries(Path(queries) if queries else DEFAULT_QUERIES), backend=backend)
    print(table(evaluation))  # noqa: T201
    print(f"loaded in {evaluation.load_seconds:.1f} s, indexed in {evaluation.index_seconds:.1f} s, "  # noqa: T201
          f"searched in {evaluation.search_seconds:.1f} s", file=sys.stderr)
    return summary(evaluation, time.perf_counter() - started)


def run(args: argparse.Namespace) -> int:
    """`tessera bench relevance`: print the table, then the JSON summary as the last line."""
    backends = getattr(args, "index_backend", None) or ["embedded"]
    result = bench_relevance(data=getattr(args, "data", None), queries=getattr(args, "queries", None),
                             backend=backends[0])
    print(orjson.dumps(result).decode())  # noqa: T201
    return 0
