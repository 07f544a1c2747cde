"""Request bodies for Elasticsearch searches and the hits they return."""
from __future__ import annotations

import numpy as np

from engine.indexing.model import Hit, IndexFilter
from adapters.search.elastic_mapping import WORD_FIELDS
from adapters.search.query_terms import QueryTerms
from adapters.search.snippets import MARK_END, MARK_START, is_marked, marked_to_html, plain_to_html
from adapters.search.word_weights import WORD_FIELD_WEIGHTS

MAX_SIZE = 10_000  # index.max_result_window, and the kNN num_candidates ceiling
MIN_CANDIDATES = 100
RESCORE_OVERSAMPLE = 2.0  # int8 candidates gathered per hit kept, rescored on the float vectors
PREFIX_REWRITE = "top_terms_blended_freqs_50"  # BM25 over the 50 commonest expansions, scored as one term
HIT_SOURCE = ["resource_type", "resource_id", "version", "patient", "date_us", "title"]
# Equal scores (identical texts are common) in key order: without it their order follows Lucene's document
# numbers, which background merges change, so the same request could order, and page, differently.
TIE_BREAK = [{"_score": "desc"}, {"resource_type": "asc"}, {"resource_id": "asc"}]
HIGHLIGHT = {
    "pre_tags": [MARK_START],
    "post_tags": [MARK_END],
    "fields": {"text": {"number_of_fragments": 1, "fragment_size": 160}, "title": {"number_of_fragments": 0}},
}


def filter_clauses(filters: IndexFilter) -> list[dict]:
    """`filters` as `bool.filter` clauses (terms per field, a range on date_us)."""
    clauses: list[dict] = []
    for field, values in (("patient", filters.patients), ("resource_type", filters.types),
                          ("source", filters.sources), ("institution", filters.institutions)):
        if values:
            clauses.append({"terms": {field: list(values)}})
    bounds = {}
    if filters.since_us is not None:
        bounds["gte"] = filters.since_us
    if filters.until_us is not None:
        bounds["lt"] = filters.until_us
    if bounds:
        clauses.append({"range": {"date_us": bounds}})
    if filters.exclude_types:
        clauses.append({"bool": {"must_not": {"terms": {"resource_type": list(filters.exclude_types)}}}})
    return clauses


def words_query(terms: QueryTerms, filters: IndexFilter) -> dict:
    """Any query word (`combined_fields` BM25F over the text fields) or stem (scored prefix), within filters."""
    should: list[dict] = []
    if terms.words:
        should.append({"combined_fields": {"query": " ".join(terms.words), "fields": list(WORD_FIELDS),
                                           "operator": "or"}})
    for prefix in terms.prefixes:
        for field, weight in WORD_FIELD_WEIGHTS.items():
            should.append({"prefix": {field: {"value": prefix, "boost": weight, "rewrite": PREFIX_REWRITE}}})
    match = {"bool": {"should": should, "minimum_should_match": 1}}
    return {"bool": {"must": [match], "filter": filter_clauses(filters)}}


def words_body(terms: QueryTerms, filters: IndexFilter, size: int, *, snippets: bool = True) -> dict:
    """A words search: the query, the hit fields and (with `snippets`) the highlighter."""
    body = {"query": words_query(terms, filters), "size": min(size, MAX_SIZE), "_source": HIT_SOURCE,
            "sort": TIE_BREAK, "track_total_hits": False}
    if snippets:
        body["highlight"] = HIGHLIGHT
    return body


def highlight_body(terms: QueryTerms, keys: list[str]) -> dict:
    """The words query restricted to the documents `keys`, highlighted (snippets for one page)."""
    query = words_query(terms, IndexFilter())
    query["bool"]["filter"] = [{"ids": {"values": keys}}]
    return {"query": query, "size": len(keys), "_source": ["title"], "highlight": HIGHLIGHT,
            "track_total_hits": False}


def meaning_body(vector: np.ndarray, filters: IndexFilter, size: int) -> dict:
    """A top-level kNN search with the filters inside it (so `size` hits come from the allowed set).

    kNN picks its `k` nearest before sorting, so it gathers twice `size`: equal scores that straddle `size`
    are then cut in key order too (unless more than `size` more share the last score). The candidates are
    rescored on the stored float vectors: int8 scores depend on each segment's quantiles, so identical
    texts in different segments would score apart, and a merge would reorder them."""
    size = min(size, MAX_SIZE)
    k = min(2 * size, MAX_SIZE)
    knn: dict = {"field": "embedding", "query_vector": np.asarray(vector, dtype=np.float32).tolist(), "k": k,
                 "num_candidates": min(MAX_SIZE, max(MIN_CANDIDATES, k)),
                 "rescore_vector": {"oversample": RESCORE_OVERSAMPLE}}
    clauses = filter_clauses(filters)
    if clauses:
        knn["filter"] = clauses
    return {"knn": knn, "size": size, "sort": TIE_BREAK, "_source": HIT_SOURCE}


def snippet_of(raw: dict) -> str:
    """The highlighted text fragment, else the highlighted title, else the title; HTML-safe."""
    highlight = raw.get("highlight") or {}
    for field in ("text", "title"):
        for fragment in highlight.get(field, ()):
            if is_marked(fragment):
                return marked_to_html(fragment)
    return plain_to_html(raw["_source"].get("title") or "")


def hit_of(raw: dict, snippet: str) -> Hit:
    """A port hit from one Elasticsearch hit."""
    source = raw["_source"]
    return Hit(raw["_id"], float(raw["_score"]), source["resource_type"], source["resource_id"],
               int(source["version"]), source.get("patient"), source.get("date_us"), snippet)
