"""Clinician search on an index that allows concurrent reads: the rankings run side by side, and a count is
asked for up front only when it is likely needed."""
from __future__ import annotations

import threading
import time

import numpy as np

from engine.indexing.model import Hit, IndexFilter
from engine.indexing.search import ClinicalSearch, SearchRequest

class _SlowIndex:
    name = "fake"

    def __init__(self, parallel: bool, size: int, *, together: int = 0):
        self.parallel_reads = parallel
        self.size = size
        self.calls: list[str] = []
        self.lock = threading.Lock()
        self.active = self.most_active = 0
        # with `together`, each query waits until that many run at once: queries run one after another
        # break the barrier (after its timeout) instead of merely taking longer
        self.barrier = threading.Barrier(together, timeout=10) if together else None

    def _hits(self, kind: str, size: int) -> list[Hit]:
        with self.lock:
            self.calls.append(kind)
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            if self.barrier is not None:
                self.barrier.wait()
            else:
                time.sleep(0.01)
        finally:
            with self.lock:
                self.active -= 1
        return [Hit(f"Condition/{i}", 1.0 / (i + 1), "Condition", str(i), 1, None, None, "x")
                for i in range(min(size, self.size))]

    def words(self, text, filters, size, *, snippets=True):
        return self._hits("words", size)

    def highlight(self, text, keys):
        return {}

    def meaning(self, vector, filters, size):
        return self._hits("meaning", size)

    def count(self, filters):
        self._hits("count", 0)
        return self.size

    def count_words(self, text, filters):
        self._hits("count_words", 0)
        return self.size


class _Embedder:
    def embed(self, texts):
        return np.zeros((len(texts), 4), dtype=np.float32)


def _search(index: _SlowIndex, request: SearchRequest) -> int:
    return ClinicalSearch(index, _Embedder()).search(request).total  # type: ignore[arg-type]


def test_hybrid_rankings_and_count_run_side_by_side_on_a_concurrent_index():
    index = _SlowIndex(parallel=True, size=5000, together=3)
    assert _search(index, SearchRequest(q="heart")) == 5000
    assert sorted(index.calls) == ["count", "meaning", "words"] and index.most_active == 3
    index = _SlowIndex(parallel=False, size=5000)
    assert _search(index, SearchRequest(q="heart")) == 5000
    assert sorted(index.calls) == ["count", "meaning", "words"] and index.most_active == 1


def test_a_patient_search_that_does_not_fill_its_window_asks_for_no_count():
    index = _SlowIndex(parallel=True, size=10, together=2)
    total = _search(index, SearchRequest(q="heart", filters=IndexFilter(patients=("Patient/p",))))
    assert total == 10 and sorted(index.calls) == ["meaning", "words"]


def test_a_words_search_counts_its_matches_beside_its_ranking():
    index = _SlowIndex(parallel=True, size=5000, together=2)
    assert _search(index, SearchRequest(q="heart", mode="words")) == 5000
    assert sorted(index.calls) == ["count_words", "words"]
