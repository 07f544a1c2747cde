"""The Elasticsearch search index: BM25 words, kNN meaning, external versioning for ordering."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError, TransportError

from engine.errors import SearchUnavailable
from engine.indexing.model import (ApplyReport, Deletion, Hit, IndexedDocument, IndexedVersion, IndexFilter,
                                   Rejection)
from engine.indexing.ports import SearchIndex
from adapters.search import elastic_mapping, elastic_queries
from adapters.search.elastic_queries import hit_of, snippet_of
from adapters.search.elastic_bulk import BulkAction, delete_action, index_action, outcome, rejection_reason
from adapters.search.query_terms import query_terms
from adapters.search.vectors import vector_problem

log = logging.getLogger("tessera.search")
# The client's node logger writes whole request and response bodies (documents, queries: patient data) at
# DEBUG whenever it has a handler; it never may.
logging.getLogger("elastic_transport.node").setLevel(logging.INFO)

BULK_ACTIONS = 500
CLEAR_ACTIONS = 2_000
VERSIONS_PAGE = 10_000
POINT_IN_TIME_KEEP_ALIVE = "2m"
FORGET_PROBE_ID = "_tessera/forget-probe"  # never a document key: resource types do not start with "_"
FORGET_TIMEOUT_S = 10.0
PING_TIMEOUT_S = 3.0


# a read of an index that is gone or closed is an outage, not an empty answer
UNUSABLE_INDEX = {"index_not_found_exception": "does not exist", "index_closed_exception": "is closed"}


@contextmanager
def _reachable() -> Iterator[None]:
    """Turn connection failures, timeouts, 429 and 5xx answers into `SearchUnavailable`."""
    try:
        yield
    except TransportError as exc:  # connection refused or reset, timeout, unreadable answer
        raise SearchUnavailable(f"Elasticsearch is unreachable ({exc.__class__.__name__})") from exc
    except ApiError as exc:
        if exc.meta.status == 429 or exc.meta.status >= 500:
            raise SearchUnavailable(f"Elasticsearch is unavailable (status {exc.meta.status})") from exc
        if exc.error in UNUSABLE_INDEX:
            raise SearchUnavailable(f"the search index {UNUSABLE_INDEX[exc.error]}: run `tessera reindex` "
                                    "(or reopen it)") from exc
        raise


class ElasticsearchIndex(SearchIndex):
    """Search documents in one Elasticsearch index: `combined_fields` BM25 words, int8 vector kNN meaning.

    Each document's `_id` is its `Type/id` key and its Elasticsearch version is the resource version
    (`version_type=external`), so an older version never replaces a newer one and a deletion leaves a
    tombstone that stops an older index operation arriving later (for `index.gc_deletes`, 60 s by default).
    """

    name = "elasticsearch"
    parallel_reads = True  # the client's connection pool serves concurrent queries

    def __init__(self, url: str, index_name: str, dimensions: int, *, timeout_s: float = 10.0):
        self.index_name = index_name
        self.dimensions = dimensions
        self.timeout_s = timeout_s
        self.client = Elasticsearch(url, request_timeout=timeout_s, max_retries=1, retry_on_timeout=False)
        self._ensured = False

    # -------------------------------------------------------------------------------------- index admin

    def ensure(self) -> None:
        """Create the index with its mapping if missing; an existing one only gets missing fields added.

        Fields already mapped are left as they are, so an operator may move the vectors to another
        `index_options` type in place (e.g. int8_flat to int8_hnsw); vectors of another length are refused.
        """
        mappings = elastic_mapping.mappings(self.dimensions)
        with _reachable():
            if not self.client.indices.exists(index=self.index_name):
                try:
                    self.client.indices.create(index=self.index_name, settings=elastic_mapping.settings(),
                                               mappings=mappings)
                except BadRequestError as exc:
                    if exc.error != "resource_already_exists_exception":
                        raise
            answer = self.client.indices.get_mapping(index=self.index_name)
            held = next(iter(answer.values()), {}).get("mappings", {}).get("properties", {})
            dimensions = held.get("embedding", {}).get("dims")
            if dimensions != self.dimensions:
                raise ValueError(f"Elasticsearch index {self.index_name!r} holds {dimensions}-dimension "
                                 f"vectors, the embedder makes {self.dimensions}: drop the index and reindex")
            missing = {name: spec for name, spec in mappings["properties"].items() if name not in held}
            if missing:
                self.client.indices.put_mapping(index=self.index_name, properties=missing)
        self._ensured = True

    def drop(self) -> None:
        """Delete the whole index (documents, tombstones and mapping)."""
        with _reachable():
            self.client.options(ignore_status=404).indices.delete(index=self.index_name)
        self._ensured = False

    def refresh(self) -> None:
        """Make every applied operation searchable now instead of at the next periodic refresh."""
        with _reachable():
            self.client.options(ignore_status=404).indices.refresh(index=self.index_name)

    def clear(self, resource_type: str | None = None) -> None:
        """Remove every document (of one type when given); the versions they had are forgotten too.

        Documents are deleted one by one rather than by dropping the index: a bulk request arriving while
        the index is missing would create it with a dynamic mapping.
        """
        self.refresh()
        keys = [item.key for item in self.versions(resource_type)]
        for start in range(0, len(keys), CLEAR_ACTIONS):
            deletes = [{"delete": {"_id": key}} for key in keys[start:start + CLEAR_ACTIONS]]
            with _reachable():
                self.client.bulk(index=self.index_name, operations=deletes)
        if keys:
            self._forget_deleted_versions()
        self.refresh()

    def _forget_deleted_versions(self) -> None:
        """Prune delete tombstones now, so the cleared documents can be indexed again at the same versions.

        Tombstones are pruned on refresh once older than `index.gc_deletes`; it is set to 0 s until a probe
        tombstone written after the deletions is gone. Elsewhere in the index, a tombstone pruned in this
        moment lets an older index operation arriving just now through, as after any `gc_deletes` expiry.
        """
        probe_delete = delete_action(Deletion(*FORGET_PROBE_ID.split("/", 1), 1))
        probe_index = [{"index": {"_id": FORGET_PROBE_ID, "version": 1, "version_type": "external"}}, {}]
        with _reachable():
            held = self.client.indices.get_settings(index=self.index_name, name="index.gc_deletes",
                                                    flat_settings=True)
            previous = next(iter(held.values()), {}).get("settings", {}).get("index.gc_deletes")
            self.client.bulk(index=self.index_name, operations=list(probe_delete.lines))
            self.client.indices.put_settings(index=self.index_name, settings={"index.gc_deletes": "0s"})
            try:
                deadline = time.monotonic() + FORGET_TIMEOUT_S
                while True:
                    time.sleep(0.25)  # the engine's clock ticks every 200 ms; tombstones must age past it
                    self.client.indices.refresh(index=self.index_name)
                    answer = self.client.bulk(index=self.index_name, operations=probe_index)
                    if outcome(answer["items"][0]) == "indexed":
                        break
                    if time.monotonic() > deadline:
                        log.warning("cleared documents' versions are still remembered; re-indexing them at "
                                    "the same versions is refused until index.gc_deletes expires")
                        break
            finally:
                self.client.indices.put_settings(index=self.index_name,
                                                 settings={"index.gc_deletes": previous})
                self.client.bulk(index=self.index_name, operations=[{"delete": {"_id": FORGET_PROBE_ID}}])

    def ping(self) -> bool:
        """True when the cluster answers (`GET /` is not served by every distribution; health is)."""
        try:
            self.client.options(request_timeout=min(self.timeout_s, PING_TIMEOUT_S)).cluster.health()
            return True
        except (TransportError, ApiError):
            return False

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    # ------------------------------------------------------------------------------------------- writes

    def apply(self, documents: Sequence[IndexedDocument], deletions: Sequence[Deletion]) -> ApplyReport:
        """Bulk index and delete (`BULK_ACTIONS` per request), ordered by external versions."""
        report = ApplyReport()
        actions: list[BulkAction] = []
        for item in documents:
            document = item.document
            problem = vector_problem(item.vector, self.dimensions)
            if problem is None:
                try:
                    actions.append(index_action(item))
                except TypeError as exc:
                    problem = f"the document cannot be encoded as JSON ({exc.__class__.__name__})"
            if problem is not None:
                report.rejected.append(Rejection(document.key, document.version, problem))
        actions.extend(delete_action(deletion) for deletion in deletions)
        if actions and not self._ensured:
            self.ensure()
        for start in range(0, len(actions), BULK_ACTIONS):
            self._bulk(actions[start:start + BULK_ACTIONS], report)
        return report

    def _bulk(self, actions: Sequence[BulkAction], report: ApplyReport) -> None:
        lines = [line for action in actions for line in action.lines]
        with _reachable():
            answer = self.client.bulk(index=self.index_name, operations=lines)
        results = [outcome(item) for item in answer["items"]]
        if "transient" in results:
            raise SearchUnavailable("Elasticsearch refused part of a bulk request for now (busy, blocked or closed)")
        for action, item, result in zip(actions, answer["items"], results):
            if result == "indexed":
                report.indexed += 1
            elif result == "deleted":
                report.deleted += 1
            elif result == "stale":
                report.stale += 1
            elif result == "rejected":
                report.rejected.append(Rejection(action.key, action.version, rejection_reason(item)))

    # ------------------------------------------------------------------------------------------ reading

    def words(self, text: str, filters: IndexFilter, size: int, *, snippets: bool = True) -> list[Hit]:
        """BM25F over title, displays and text (any query word matches), with highlighted snippets."""
        terms = query_terms(text)
        if not terms or size <= 0:
            return []
        body = elastic_queries.words_body(terms, filters, size, snippets=snippets)
        with _reachable():
            answer = self.client.search(index=self.index_name, **body)
        return [hit_of(raw, snippet_of(raw)) for raw in answer["hits"]["hits"]]

    def highlight(self, text: str, keys: Sequence[str]) -> dict[str, str]:
        """Highlighted snippets of the documents `keys` that `text` matches (one small query)."""
        terms = query_terms(text)
        if not terms or not keys:
            return {}
        body = elastic_queries.highlight_body(terms, list(keys)[:elastic_queries.MAX_SIZE])
        with _reachable():
            answer = self.client.search(index=self.index_name, **body)
        return {raw["_id"]: snippet_of(raw) for raw in answer["hits"]["hits"]}

    def count_words(self, text: str, filters: IndexFilter) -> int:
        """How many documents hold any query word under `filters`."""
        terms = query_terms(text)
        if not terms:
            return 0
        with _reachable():
            answer = self.client.count(index=self.index_name,
                                       query=elastic_queries.words_query(terms, filters))
        return int(answer["count"])

    def count(self, filters: IndexFilter) -> int:
        """How many documents pass `filters`."""
        with _reachable():
            answer = self.client.count(index=self.index_name,
                                       query={"bool": {"filter": elastic_queries.filter_clauses(filters)}})
        return int(answer["count"])

    def meaning(self, vector: np.ndarray, filters: IndexFilter, size: int) -> list[Hit]:
        """The `size` nearest documents by cosine among those passing `filters` (int8-quantized vectors)."""
        problem = vector_problem(vector, self.dimensions)
        if problem:
            raise ValueError(f"query vector: {problem}")
        if size <= 0:
            return []
        body = elastic_queries.meaning_body(vector, filters, size)
        with _reachable():
            answer = self.client.search(index=self.index_name, **body)
        return [hit_of(raw, snippet_of(raw)) for raw in answer["hits"]["hits"]]

    def versions(self, resource_type: str | None = None) -> Iterator[IndexedVersion]:
        """Every document's key and version, read through a point in time a page at a time."""
        query = {"term": {"resource_type": resource_type}} if resource_type else {"match_all": {}}
        with _reachable():
            try:
                pit = self.client.open_point_in_time(index=self.index_name,
                                                     keep_alive=POINT_IN_TIME_KEEP_ALIVE)
            except NotFoundError:
                return
        pit_id = pit["id"]
        try:
            after = None
            while True:
                page: dict = {"pit": {"id": pit_id, "keep_alive": POINT_IN_TIME_KEEP_ALIVE}, "query": query,
                              "size": VERSIONS_PAGE, "sort": ["_shard_doc"], "_source": ["version"],
                              "track_total_hits": False}
                if after is not None:
                    page["search_after"] = after
                with _reachable():
                    answer = self.client.search(**page)
                pit_id = answer.get("pit_id", pit_id)
                hits = answer["hits"]["hits"]
                for raw in hits:
                    version = (raw.get("_source") or {}).get("version")
                    if version is not None:
                        yield IndexedVersion(raw["_id"], int(version))
                if len(hits) < VERSIONS_PAGE:
                    return
                after = hits[-1]["sort"]
        finally:
            try:
                self.client.close_point_in_time(id=pit_id)
            except (TransportError, ApiError):
                pass  # it expires on its own after the keep-alive
