"""Clinician search: words (BM25) and meaning (vectors) ranked separately and fused by reciprocal rank."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from engine.errors import InvalidSearchRequest, Issue
from engine.fhir.dates import format_instant, parse_strict_range
from engine.fhir.release import is_resource_type
from engine.indexing.fusion import reciprocal_rank_fusion
from engine.indexing.model import IndexFilter
from engine.indexing.ports import Embedder, SearchIndex
from engine.indexing.synonyms import Synonyms

_QUERIES = ThreadPoolExecutor(max_workers=32, thread_name_prefix="search-query")
MODES = ("hybrid", "words", "meaning")
MAX_QUERY_CHARS = 1000
MAX_LIMIT = 100
MAX_OFFSET = 1000
MAX_WINDOW = 1000
MIN_WINDOW = 50
# Hybrid pages slice one fused list ranked this deep whatever the page, so pages neither repeat nor skip
# (a deeper ranking would change the fusion); words and meaning alone page down to MAX_WINDOW.
HYBRID_WINDOW = 100
# Billing and bookkeeping records repeat the clinical wording of what they bill or record; a clinician's
# search leaves them out unless `type=` names them.
NOT_CLINICAL = ("Claim", "ExplanationOfBenefit", "Provenance", "AuditEvent")
# Fusion: meaning carries the ranking, words lift what both find (measured with `tessera bench relevance`).
FUSION_WEIGHTS = {"words": 0.25, "meaning": 1.0}
FUSION_K = 10


@dataclass(frozen=True)
class SearchRequest:
    """One clinician search: the words typed, the filters, the mode and the page."""

    q: str
    filters: IndexFilter = IndexFilter()
    mode: str = "hybrid"
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True)
class SearchResult:
    """One result as the API shows it."""

    resource_type: str
    resource_id: str
    patient: str | None
    date: str | None
    score: float
    snippet: str
    matched: str  # "words" | "meaning" | "both"

    def to_json(self) -> dict:
        """The API's JSON shape of a result."""
        return {"resourceType": self.resource_type, "id": self.resource_id, "patient": self.patient,
                "date": self.date, "score": round(self.score, 6), "snippet": self.snippet, "matched": self.matched}


@dataclass(frozen=True)
class SearchResponse:
    """A page of results and how many there are in all."""

    results: list[SearchResult]
    total: int

    def to_json(self) -> dict:
        """The API's JSON shape of a response."""
        return {"results": [r.to_json() for r in self.results], "total": self.total}


def _invalid(parameter: str, message: str) -> InvalidSearchRequest:
    return InvalidSearchRequest(f"{parameter}: {message}", issues=[Issue("invalid", f"{parameter}: {message}", parameter)])


def _single(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name) or []
    if len(values) > 1:
        raise _invalid(name, "give it at most once")
    return values[0] if values else None


def _integer(params: Mapping[str, Sequence[str]], name: str, default: int, low: int, high: int) -> int:
    text = _single(params, name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise _invalid(name, f"must be an integer, got {text[:40]!r}") from None
    if not low <= value <= high:
        raise _invalid(name, f"must be between {low} and {high}, got {value}")
    return value


def _date(params: Mapping[str, Sequence[str]], name: str, *, upper: bool) -> int | None:
    text = _single(params, name)
    if text is None:
        return None
    bounds = parse_strict_range(text.strip())
    if bounds is None:
        raise _invalid(name, f"must be a FHIR date or dateTime (e.g. 2024-05-01), got {text[:40]!r}")
    return bounds[1] + 1 if upper else bounds[0]  # IndexFilter.until_us is exclusive


def _patients(values: Sequence[str]) -> tuple[str, ...]:
    patients = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            reference = item if item.startswith("Patient/") else f"Patient/{item}"
            identifier = reference.split("/", 1)[1]
            if not identifier or len(identifier) > 64 or "/" in identifier:
                raise _invalid("patient", f"must be a Patient id or Patient/id, got {item[:40]!r}")
            patients.append(reference)
    return tuple(dict.fromkeys(patients))


def parse_request(params: Mapping[str, Sequence[str]]) -> SearchRequest:
    """Build a request from query parameters; every problem names its parameter (422)."""
    q = (_single(params, "q") or "").strip()
    if not q:
        raise _invalid("q", "is required and must not be empty")
    if len(q) > MAX_QUERY_CHARS:
        raise _invalid("q", f"must be at most {MAX_QUERY_CHARS} characters, got {len(q)}")
    mode = _single(params, "mode") or "hybrid"
    if mode not in MODES:
        raise _invalid("mode", f"must be one of {', '.join(MODES)}, got {mode[:40]!r}")
    types = tuple(dict.fromkeys(t.strip() for value in params.get("type", []) for t in value.split(",") if t.strip()))
    for name in types:
        if not is_resource_type(name):
            raise _invalid("type", f"unknown resource type {name[:64]!r}")
    since, until = _date(params, "since", upper=False), _date(params, "until", upper=True)
    if since is not None and until is not None and since >= until:
        raise _invalid("until", "must be after since")
    sources = tuple(dict.fromkeys(s for s in params.get("source", []) if s))
    filters = IndexFilter(patients=_patients(params.get("patient", [])), types=types, since_us=since,
                          until_us=until, sources=sources)
    limit, offset = _integer(params, "limit", 20, 1, MAX_LIMIT), _integer(params, "offset", 0, 0, MAX_OFFSET)
    deepest = HYBRID_WINDOW if mode == "hybrid" else MAX_WINDOW
    if offset + limit > deepest:
        raise _invalid("offset", f"offset + limit must be at most {deepest} in {mode} mode "
                                 f"(the deepest ranked result), got {offset + limit}")
    return SearchRequest(q=q, filters=filters, mode=mode, limit=limit, offset=offset)


def clinical(filters: IndexFilter) -> IndexFilter:
    """The filters, leaving out non-clinical records unless types were asked for."""
    if filters.types or filters.exclude_types:
        return filters
    return replace(filters, exclude_types=NOT_CLINICAL)


Visible = Callable[[list[str]], set[str]]


class ClinicalSearch:
    """Runs words and meaning rankings with the same filters and fuses them (reciprocal rank fusion)."""

    def __init__(self, index: SearchIndex, embedder: Embedder, synonyms: Synonyms | None = None):
        self.index = index
        self.embedder = embedder
        self.synonyms = synonyms

    def expand(self, text: str) -> str:
        """The query with the clinical abbreviations and lay terms it contains spelled out."""
        return self.synonyms.expand(text) if self.synonyms else text

    def rankings(self, request: SearchRequest, window: int, *, with_count: bool = False) -> dict[str, Any]:
        """The words and/or meaning rankings the mode asks for, `window` deep each (and, `with_count`, the
        number of matches under "count"); on an index that allows it the queries run at the same time.
        Words hits carry titles: highlighting a whole ranking costs more than ranking it (measured: about
        twice the words query at 100 deep), so only the page shown is highlighted, afterwards (doing it
        beside the meaning query was slower on 2 cores)."""
        text = self.expand(request.q)
        filters = clinical(request.filters)
        calls: dict[str, Callable[[], Any]] = {}
        if request.mode in ("hybrid", "words"):
            calls["words"] = lambda: self.index.words(text, filters, window, snippets=False)
        if request.mode in ("hybrid", "meaning"):
            calls["meaning"] = lambda: self.index.meaning(self.embedder.embed([text])[0], filters, window)
        if with_count:  # how many match: by words in words mode, else every document passing the filters
            calls["count"] = ((lambda: self.index.count_words(text, filters)) if request.mode == "words"
                              else (lambda: self.index.count(filters)))
        if not self.index.parallel_reads or len(calls) == 1:
            return {name: call() for name, call in calls.items()}
        names = list(calls)  # the first query runs in this thread, the others beside it
        futures = {name: _QUERIES.submit(calls[name]) for name in names[1:]}
        results = {names[0]: calls[names[0]]()}
        results.update({name: future.result() for name, future in futures.items()})
        return results

    def search(self, request: SearchRequest, visible: Visible | None = None) -> SearchResponse:
        """One page of results; `visible` drops what the caller may not see (checked against the store).

        `total` does not depend on the page: when the rankings hold every match it is the count of those
        the caller may see, else the index counts the matches (by words in words mode; every document
        passing the filters ranks by meaning) and the count is scaled by the share of the first
        MIN_WINDOW ranked that the caller may see (an estimate; records hidden throughout count 0).
        """
        window = (HYBRID_WINDOW if request.mode == "hybrid"
                  else min(MAX_WINDOW, max(MIN_WINDOW, 2 * (request.offset + request.limit))))
        # where queries run side by side, the count runs with the rankings when it is likely needed (no
        # patient filter: the rankings fill their window); otherwise only if needed
        speculate = self.index.parallel_reads and not request.filters.patients
        rankings = self.rankings(request, window, with_count=speculate)
        counted: int | None = rankings.pop("count", None)
        fused = reciprocal_rank_fusion(rankings, weights=FUSION_WEIGHTS, k=FUSION_K)
        seen_share = 1.0  # of the first MIN_WINDOW ranked, the share the caller may see (same on every page)
        if visible is not None and fused:
            allowed = visible([item.key for item in fused])
            head = fused[:MIN_WINDOW]
            seen_share = sum(1 for item in head if item.key in allowed) / len(head)
            fused = [item for item in fused if item.key in allowed]
        page = fused[request.offset:request.offset + request.limit]
        worded = [item.key for item in page if "words" in item.hits]
        snippets = self.index.highlight(self.expand(request.q), worded) if worded else {}
        results = []
        for item in page:
            hit = item.any_hit
            matched = "both" if len(item.hits) > 1 else next(iter(item.hits))
            date = format_instant(hit.date_us) if hit.date_us is not None else None
            results.append(SearchResult(hit.resource_type, hit.resource_id, hit.patient, date, item.score,
                                        snippets.get(item.key, hit.snippet), matched))
        total = len(fused)
        if any(len(hits) >= window for hits in rankings.values()):  # more matches than were ranked
            if counted is None:
                filters = clinical(request.filters)
                counted = (self.index.count_words(self.expand(request.q), filters) if request.mode == "words"
                           else self.index.count(filters))
            total = max(total, round(counted * seen_share))
        return SearchResponse(results, total)

    def keys(self, text: str, filters: IndexFilter, *, mode: str = "hybrid", limit: int = MAX_WINDOW) -> list[str]:
        """Ranked `Type/id` keys for FHIR `_text` / `_content` (relevance order, up to `limit`)."""
        request = replace(SearchRequest(q=text, filters=filters, mode=mode), limit=limit)
        return [item.key for item in reciprocal_rank_fusion(self.rankings(request, min(limit, MAX_WINDOW)),
                                                            weights=FUSION_WEIGHTS, k=FUSION_K)]
