"""The Elasticsearch index definition: explicit strict mapping, one shard, no replicas."""
from __future__ import annotations

from adapters.search.word_weights import WORD_FIELD_WEIGHTS

TEXT_ANALYZER = "standard"  # Unicode word segmentation, lower case; the integration-test build has no stemmer
KEYWORD_FIELDS = ("resource_type", "resource_id", "patient", "source", "institution", "status", "codes")
TEXT_FIELDS = tuple(WORD_FIELD_WEIGHTS)
WORD_FIELDS = tuple(f"{field}^{weight:g}" for field, weight in WORD_FIELD_WEIGHTS.items())
# A brute-force scan of int8-quantized vectors: on 2 cores it indexes ~7x faster than int8_hnsw (no graph to
# build or rebuild on merges), filtered searches score only the allowed documents, and recall is that of the
# quantization alone. Its cost grows linearly with the documents: past a few hundred thousand per index,
# switch the mapping to int8_hnsw in place (allowed for existing indexes; new segments get the graph).
VECTOR_INDEX_OPTIONS = {"type": "int8_flat"}


def mappings(dimensions: int) -> dict:
    """The mapping of a search document; unknown fields are refused (`dynamic: strict`)."""
    properties: dict[str, dict] = {name: {"type": "keyword"} for name in KEYWORD_FIELDS}
    properties.update({name: {"type": "text", "analyzer": TEXT_ANALYZER} for name in TEXT_FIELDS})
    properties.update({
        "date_us": {"type": "long"},
        "version": {"type": "long"},
        "embed_text": {"type": "text", "index": False},
        "embedding": {"type": "dense_vector", "dims": dimensions, "index": True, "similarity": "cosine",
                      "index_options": dict(VECTOR_INDEX_OPTIONS)},
    })
    return {"dynamic": "strict", "properties": properties}


def settings() -> dict:
    """One shard (the index is small and single-node), no replicas, default 1 s refresh."""
    return {"index": {"number_of_shards": 1, "number_of_replicas": 0}}
