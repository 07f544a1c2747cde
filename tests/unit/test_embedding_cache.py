"""The caching embedder embeds each distinct text once, keeps the most recent ones, is safe across threads."""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from engine.indexing.embedding_cache import CachingEmbedder
from engine.indexing.ports import Embedder


class CountingEmbedder(Embedder):
    """Deterministic vectors derived from each text's hash; records every batch it is asked for."""

    model_name = "fake-hash"
    dimensions = 8

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.calls.append(list(texts))
        return np.stack([self.vector(text) for text in texts]) if texts else np.empty((0, 8), np.float32)

    @staticmethod
    def vector(text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        raw = np.random.default_rng(seed).standard_normal(8).astype(np.float32)
        return raw / np.linalg.norm(raw)

    @property
    def embedded(self) -> list[str]:
        return [text for call in self.calls for text in call]


@pytest.fixture
def inner() -> CountingEmbedder:
    return CountingEmbedder()


def test_returns_the_inner_vectors_in_order(inner):
    cache = CachingEmbedder(inner)
    texts = ["b", "a", "c"]
    vectors = cache.embed(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (3, 8)
    np.testing.assert_array_equal(vectors, np.stack([CountingEmbedder.vector(t) for t in texts]))
    assert cache.model_name == "fake-hash" and cache.dimensions == 8


def test_embeds_each_distinct_text_once_within_and_across_calls(inner):
    cache = CachingEmbedder(inner)
    first = cache.embed(["x", "y", "x", "x"])
    second = cache.embed(["y", "z", "x"])
    assert inner.calls == [["x", "y"], ["z"]]
    np.testing.assert_array_equal(first[0], first[2])
    np.testing.assert_array_equal(first[0], second[2])
    assert (cache.hits, cache.misses) == (4, 3)
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.size, stats.capacity) == (4, 3, 3, 50_000)


def test_a_call_with_only_known_texts_never_reaches_the_inner_embedder(inner):
    cache = CachingEmbedder(inner)
    cache.embed(["p", "q"])
    cache.embed(["q", "p", "q"])
    assert inner.calls == [["p", "q"]]


def test_empty_input(inner):
    cache = CachingEmbedder(inner)
    vectors = cache.embed([])
    assert vectors.shape == (0, 8) and vectors.dtype == np.float32
    assert inner.calls == [] and (cache.hits, cache.misses) == (0, 0)


def test_least_recently_used_texts_are_forgotten_first(inner):
    cache = CachingEmbedder(inner, capacity=2)
    cache.embed(["a", "b"])
    cache.embed(["a"])  # "a" is now more recent than "b"
    cache.embed(["c"])  # evicts "b"
    assert cache.stats().size == 2
    cache.embed(["a", "c"])
    assert inner.embedded == ["a", "b", "c"]
    cache.embed(["b"])
    assert inner.embedded == ["a", "b", "c", "b"]


def test_a_call_larger_than_the_capacity_still_answers_every_text(inner):
    cache = CachingEmbedder(inner, capacity=3)
    texts = [f"t{i}" for i in range(10)]
    vectors = cache.embed(texts + texts[:2])
    np.testing.assert_array_equal(vectors[:10], np.stack([CountingEmbedder.vector(t) for t in texts]))
    np.testing.assert_array_equal(vectors[10:], vectors[:2])
    assert cache.stats().size == 3


def test_changing_a_returned_array_does_not_change_the_cache(inner):
    cache = CachingEmbedder(inner)
    cache.embed(["k"])[0][:] = 0.0
    np.testing.assert_array_equal(cache.embed(["k"])[0], CountingEmbedder.vector("k"))


def test_clear_forgets_vectors_but_keeps_counting(inner):
    cache = CachingEmbedder(inner)
    cache.embed(["a"])
    cache.clear()
    cache.embed(["a"])
    assert inner.embedded == ["a", "a"]
    assert (cache.hits, cache.misses, cache.stats().size) == (0, 2, 1)


def test_rejects_a_capacity_below_one(inner):
    with pytest.raises(ValueError):
        CachingEmbedder(inner, capacity=0)


def test_rejects_an_inner_embedder_returning_the_wrong_shape():
    class Broken(CountingEmbedder):
        def embed(self, texts):
            return np.zeros((len(texts) + 1, 8), np.float32)

    with pytest.raises(ValueError, match="shape"):
        CachingEmbedder(Broken()).embed(["a"])


def test_concurrent_callers_get_correct_vectors_and_the_bound_holds(inner):
    cache = CachingEmbedder(inner, capacity=50)
    texts = [f"text {i % 120}" for i in range(600)]
    mismatches: list[int] = []
    finished: list[int] = []

    def worker(offset: int) -> None:
        for start in range(offset, len(texts), 37):
            batch = texts[start:start + 25]
            expected = np.stack([CountingEmbedder.vector(t) for t in batch])
            if not np.array_equal(cache.embed(batch), expected):
                mismatches.append(start)
        finished.append(offset)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert mismatches == [] and sorted(finished) == list(range(8))
    stats = cache.stats()
    assert stats.size <= 50
    assert stats.hits + stats.misses == sum(len(texts[s:s + 25]) for n in range(8) for s in range(n, 600, 37))
    assert stats.misses == len(inner.embedded)
