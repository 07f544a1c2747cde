"""What only the Elasticsearch index does: its mapping, server-side refusals, and an unreachable server."""
from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator

import pytest

from engine.errors import SearchUnavailable
from engine.indexing.model import Deletion, IndexFilter
from adapters.search.elastic_index import ElasticsearchIndex
from adapters.search.elastic_mapping import VECTOR_INDEX_OPTIONS
from tests.search_index.builders import DIMENSIONS, axis, indexed
from tests.support.services import require

CLOSED_PORT_URL = "http://127.0.0.1:9"


@pytest.fixture
def elastic() -> Iterator[ElasticsearchIndex]:
    """An ensured index of its own on the local Elasticsearch, dropped afterwards."""
    url = require("TESSERA_ELASTICSEARCH_URL", "Elasticsearch")
    index = ElasticsearchIndex(url, f"tessera-contract-{uuid.uuid4().hex[:12]}", DIMENSIONS)
    index.ensure()
    yield index
    index.drop()
    index.close()


def _every_operation_is_unavailable(index: ElasticsearchIndex) -> None:
    operations = {
        "ensure": index.ensure,
        "apply": lambda: index.apply([indexed("Condition/a")], [Deletion("Condition", "b", 2)]),
        "words": lambda: index.words("gout", IndexFilter(), 10),
        "meaning": lambda: index.meaning(axis(0), IndexFilter(), 10),
        "count_words": lambda: index.count_words("gout", IndexFilter()),
        "versions": lambda: list(index.versions()),
        "refresh": index.refresh,
        "clear": index.clear,
    }
    for name, operation in operations.items():
        with pytest.raises(SearchUnavailable):
            operation()
            pytest.fail(f"{name} did not raise")
    assert index.ping() is False


def test_an_unreachable_server_is_search_unavailable() -> None:
    index = ElasticsearchIndex(CLOSED_PORT_URL, "tessera-nowhere", DIMENSIONS, timeout_s=2.0)
    _every_operation_is_unavailable(index)
    index.close()


def test_a_server_that_never_answers_is_search_unavailable() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never reads or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        index = ElasticsearchIndex(url, "tessera-silent", DIMENSIONS, timeout_s=0.3)
        with pytest.raises(SearchUnavailable):
            index.words("gout", IndexFilter(), 10)
        with pytest.raises(SearchUnavailable):
            index.apply([indexed("Condition/a")], [])
        assert index.ping() is False
        index.close()


def test_the_mapping_is_explicit_and_strict(elastic: ElasticsearchIndex) -> None:
    mapping = elastic.client.indices.get_mapping(index=elastic.index_name)[elastic.index_name]["mappings"]
    assert mapping["dynamic"] == "strict"
    fields = mapping["properties"]
    assert {name: fields[name]["type"] for name in ("patient", "codes", "date_us", "version", "title")} == {
        "patient": "keyword", "codes": "keyword", "date_us": "long", "version": "long", "title": "text"}
    embedding = fields["embedding"]
    assert (embedding["dims"], embedding["similarity"], embedding["index_options"]["type"]) == (
        DIMENSIONS, "cosine", VECTOR_INDEX_OPTIONS["type"])
    assert fields["embed_text"]["index"] is False
    settings = elastic.client.indices.get_settings(index=elastic.index_name)[elastic.index_name]["settings"]
    assert (settings["index"]["number_of_shards"], settings["index"]["number_of_replicas"]) == ("1", "0")


def test_vectors_moved_to_hnsw_in_place_are_kept_by_ensure(elastic: ElasticsearchIndex) -> None:
    hnsw = {"type": "dense_vector", "dims": DIMENSIONS, "index": True, "similarity": "cosine",
            "index_options": {"type": "int8_hnsw", "m": 16, "ef_construction": 100}}
    elastic.client.indices.put_mapping(index=elastic.index_name, properties={"embedding": hnsw})
    elastic.ensure()
    mapping = elastic.client.indices.get_mapping(index=elastic.index_name)[elastic.index_name]["mappings"]
    assert mapping["properties"]["embedding"]["index_options"]["type"] == "int8_hnsw"
    elastic.apply([indexed("Condition/a", vector=axis(2))], [])
    elastic.refresh()
    assert [hit.key for hit in elastic.meaning(axis(2), IndexFilter(), 5)] == ["Condition/a"]


def test_a_document_the_server_refuses_is_rejected_without_its_values(elastic: ElasticsearchIndex) -> None:
    secret = "Patient/" + "x" * 40_000  # a keyword term longer than Lucene's 32766-byte limit
    report = elastic.apply([indexed("Condition/good", text="Gout."),
                            indexed("Condition/huge", patient=secret),
                            indexed("Condition/also-good", text="Gout.")], [])
    assert report.indexed == 2
    [rejection] = report.rejected
    assert (rejection.key, rejection.version) == ("Condition/huge", 1)
    assert "[patient]" in rejection.reason and "xxxx" not in rejection.reason
    elastic.refresh()
    assert sorted(v.key for v in elastic.versions()) == ["Condition/also-good", "Condition/good"]


def test_documents_and_queries_stay_out_of_the_logs(elastic: ElasticsearchIndex,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    elastic.apply([indexed("Condition/a", text="Zebrafinch syndrome.", patient="Patient/zz-secret")], [])
    elastic.refresh()
    assert elastic.words("zebrafinch", IndexFilter(patients=("Patient/zz-secret",)), 5)
    assert caplog.records  # the client did log its requests
    assert "zebrafinch" not in caplog.text.lower() and "zz-secret" not in caplog.text


def test_apply_creates_the_index_when_nobody_ensured_it() -> None:
    url = require("TESSERA_ELASTICSEARCH_URL", "Elasticsearch")
    index = ElasticsearchIndex(url, f"tessera-contract-{uuid.uuid4().hex[:12]}", DIMENSIONS)
    try:
        assert list(index.versions()) == []
        with pytest.raises(SearchUnavailable, match="does not exist"):
            index.words("gout", IndexFilter(), 10)
        assert index.apply([indexed("Condition/a", text="Gout.")], []).indexed == 1
        index.refresh()
        assert [hit.key for hit in index.words("gout", IndexFilter(), 10)] == ["Condition/a"]
        mapping = index.client.indices.get_mapping(index=index.index_name)[index.index_name]["mappings"]
        assert mapping["dynamic"] == "strict"
    finally:
        index.drop()
        index.close()


def test_a_blocked_or_closed_index_is_unavailable_not_a_refusal_of_the_documents(elastic: ElasticsearchIndex) -> None:
    elastic.apply([indexed("Condition/a", text="Gout.")], [])
    client, name = elastic.client, elastic.index_name
    client.indices.put_settings(index=name, settings={"index.blocks.write": True})
    try:
        with pytest.raises(SearchUnavailable):
            elastic.apply([indexed("Condition/b", text="Gout.")], [Deletion("Condition", "a", 2)])
    finally:
        client.indices.put_settings(index=name, settings={"index.blocks.write": False})
    client.indices.close(index=name)
    try:
        with pytest.raises(SearchUnavailable):
            elastic.apply([indexed("Condition/b", text="Gout.")], [])
    finally:
        client.indices.open(index=name, wait_for_active_shards="1")
    report = elastic.apply([indexed("Condition/b", text="Gout.")], [Deletion("Condition", "a", 2)])
    assert (report.indexed, report.deleted, report.rejected) == (1, 1, [])


@pytest.mark.services
def test_reading_a_missing_or_closed_index_is_search_unavailable(elastic) -> None:
    reads = {"words": lambda index: index.words("gout", IndexFilter(), 10),
             "meaning": lambda index: index.meaning(axis(0), IndexFilter(), 10),
             "count_words": lambda index: index.count_words("gout", IndexFilter()),
             "count": lambda index: index.count(IndexFilter())}
    elastic.apply([indexed("Condition/a")], [])
    elastic.client.indices.close(index=elastic.index_name)
    missing = ElasticsearchIndex(require("TESSERA_ELASTICSEARCH_URL", "Elasticsearch"),
                                 f"tessera-missing-{uuid.uuid4().hex[:12]}", DIMENSIONS)
    try:
        for index, problem in ((elastic, "is closed"), (missing, "does not exist")):
            for name, read in reads.items():
                with pytest.raises(SearchUnavailable, match=problem):
                    read(index)
                    pytest.fail(f"{name} answered")
    finally:
        elastic.client.indices.open(index=elastic.index_name)
        missing.close()


def test_equal_scores_rank_and_are_cut_in_key_order_whatever_the_segments(elastic: ElasticsearchIndex) -> None:
    for name in "edcba":  # one segment each, newest key first: Lucene's own order would be e, d, c, …
        elastic.apply([indexed(f"Condition/{name}", title="Gout", text="Gout.")], [])
        elastic.refresh()
    expected = ["Condition/a", "Condition/b", "Condition/c"]
    assert [hit.key for hit in elastic.words("gout", IndexFilter(), 3)] == expected
    assert [hit.key for hit in elastic.words("gout", IndexFilter(), 3, snippets=False)] == expected
    assert [hit.key for hit in elastic.meaning(axis(0), IndexFilter(), 3)] == expected
    assert len({hit.score for hit in elastic.words("gout", IndexFilter(), 5)}) == 1


def test_identical_vectors_in_differently_quantized_segments_score_alike(elastic: ElasticsearchIndex) -> None:
    for number, name in enumerate("edcba"):  # each segment's other vector moves its int8 quantiles
        other = axis(1 + number % 7, lean=0, amount=0.1 * (number + 1)) * (number + 1)
        elastic.apply([indexed(f"Condition/{name}", vector=axis(0, lean=1, amount=0.4)),
                       indexed(f"Condition/other-{name}", vector=other)], [])
        elastic.refresh()
    hits = [hit for hit in elastic.meaning(axis(0, lean=2, amount=0.5), IndexFilter(), 10)
            if not hit.resource_id.startswith("other")]
    assert [hit.key for hit in hits] == [f"Condition/{name}" for name in "abcde"]
    assert len({hit.score for hit in hits}) == 1
