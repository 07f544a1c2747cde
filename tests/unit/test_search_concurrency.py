"""Clinician search on an index that allows concurrent reads: the rankings run side by side, and a count is
asked for up front only when it is likely needed."""
from __future__ import annotations

import threading
import time

import numpy as np

from engine.indexing.model import Hit, IndexFilter
from engine.indexing.search import ClinicalSearch, SearchRequest

DELAY_S = 0.2


class _SlowIndex:
    name = "fake"

    def __init__(self, parallel: bool, size: int):
        self.parallel_reads = parallel
        self.size = size
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def _hits(self, kind: str, size: int) -> list[Hit]:
        with self.lock:
            self.calls.append(kind)
        time.sleep(DELAY_S)
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


def _timed(index: _SlowIndex, request: SearchRequest) -> tuple[float, int]:
    started = time.perf_counter()
    response = ClinicalSearch(index, _Embedder()).search(request)  # type: ignore[arg-type]
    return time.perf_counter() - started, response.total


def test_hybrid_rankings_and_count_run_side_by_side_on_a_concurrent_index():
    seconds, total = _timed(_SlowIndex(parallel=True, size=5000), SearchRequest(q="heart"))
    assert total == 5000 and seconds < 2 * DELAY_S
    seconds, total = _timed(_SlowIndex(parallel=False, size=5000), SearchRequest(q="heart"))
    assert total == 5000 and seconds >= 3 * DELAY_S


def test_a_patient_search_that_does_not_fill_its_window_asks_for_no_count():
    index = _SlowIndex(parallel=True, size=10)
    _, total = _timed(index, SearchRequest(q="heart", filters=IndexFilter(patients=("Patient/p",))))
    assert total == 10 and sorted(index.calls) == ["meaning", "words"]


def test_a_words_search_counts_its_matches_beside_its_ranking():
    index = _SlowIndex(parallel=True, size=5000)
    seconds, total = _timed(index, SearchRequest(q="heart", mode="words"))
    assert total == 5000 and seconds < 2 * DELAY_S
    assert sorted(index.calls) == ["count_words", "words"]
