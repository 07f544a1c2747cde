"""Ports of the indexing pipeline: the search index, the embedder and the index outbox."""
from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager

import numpy as np

from engine.indexing.model import (ApplyReport, Deletion, Hit, IndexedDocument, IndexedVersion, IndexFilter,
                                   SourceVersion)
from engine.store.model import OutboxEvent


class SearchIndex(abc.ABC):
    """A relevance index of search documents: words (BM25) and meaning (vector nearest neighbours)."""

    name: str  # "elasticsearch" | "embedded"
    parallel_reads: bool = False  # words, meaning and count queries may run at the same time from threads

    @abc.abstractmethod
    def ensure(self) -> None:
        """Create the index (explicit mapping) if it does not exist; idempotent."""

    @abc.abstractmethod
    def apply(self, documents: Sequence[IndexedDocument], deletions: Sequence[Deletion]) -> ApplyReport:
        """Index and delete, ordered by version: an older version never replaces or resurrects a newer one.

        Raises `SearchUnavailable` when the index cannot be reached (the caller retries the whole batch);
        documents refused for good come back in `ApplyReport.rejected`.
        """

    @abc.abstractmethod
    def words(self, text: str, filters: IndexFilter, size: int, *, snippets: bool = True) -> list[Hit]:
        """The best `size` documents for `text` by BM25, with highlighted snippets (or, without
        `snippets`, their titles: highlighting costs more than ranking)."""

    @abc.abstractmethod
    def highlight(self, text: str, keys: Sequence[str]) -> dict[str, str]:
        """Highlighted snippets for `text` of the documents named by `keys` (`Type/id`) that it matches."""

    @abc.abstractmethod
    def meaning(self, vector: np.ndarray, filters: IndexFilter, size: int) -> list[Hit]:
        """The `size` documents nearest to `vector` (cosine)."""

    @abc.abstractmethod
    def count_words(self, text: str, filters: IndexFilter) -> int:
        """How many documents match `text` by words under `filters`."""

    @abc.abstractmethod
    def count(self, filters: IndexFilter) -> int:
        """How many documents pass `filters` (each of them ranks by meaning)."""

    @abc.abstractmethod
    def versions(self, resource_type: str | None = None) -> Iterator[IndexedVersion]:
        """Every document's key and version (of one type when given)."""

    @abc.abstractmethod
    def refresh(self) -> None:
        """Make everything applied so far searchable."""

    @abc.abstractmethod
    def clear(self, resource_type: str | None = None) -> None:
        """Remove every document (of one type when given)."""

    @abc.abstractmethod
    def ping(self) -> bool:
        """True when the index answers."""

    def close(self) -> None:
        """Release connections; the default does nothing."""


class Embedder(abc.ABC):
    """Turns texts into unit-length float32 vectors."""

    model_name: str
    dimensions: int

    @abc.abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, shape (len(texts), dimensions), float32, unit length."""


class ClaimedBatch(abc.ABC):
    """Outbox events claimed by one drainer; others skip them until `complete` or the claim ends."""

    events: list[OutboxEvent]

    @abc.abstractmethod
    def complete(self, seqs: Sequence[int]) -> None:
        """Mark these events indexed, durably."""

    @abc.abstractmethod
    def dead_letter(self, key: str, version: int, reason: str) -> None:
        """Record a document that could not be indexed, with the reason (kept for operators)."""


class IndexOutbox(abc.ABC):
    """The store's outbox seen by the indexer: events not yet indexed, claimed in batches."""

    @abc.abstractmethod
    def claim(self, limit: int) -> AbstractContextManager[ClaimedBatch]:
        """Claim up to `limit` oldest unindexed events; leaving the block without `complete` releases them."""

    @abc.abstractmethod
    def pending(self) -> int:
        """How many events are not indexed yet."""

    @abc.abstractmethod
    def dead_letters(self, limit: int = 100) -> list[dict]:
        """The most recent dead-letter records (key, version, reason, time)."""

    @abc.abstractmethod
    def current(self, keys: Sequence[tuple[str, str]]) -> list[SourceVersion]:
        """The current versions (deleted ones included) of the given (type, id) pairs that exist."""

    @abc.abstractmethod
    def scan(self, resource_type: str | None, after: int, limit: int) -> tuple[list[SourceVersion], int]:
        """Current non-deleted resources after position `after`, and the position to continue from."""

    @abc.abstractmethod
    def current_versions(self, resource_type: str | None = None) -> Iterator[IndexedVersion]:
        """Key and version of every current non-deleted resource (of one type when given)."""
