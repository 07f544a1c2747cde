"""Draining refreshes the index once it has caught up, also when an earlier drain stopped on its time limit."""
from __future__ import annotations

from engine.indexing.service import DrainReport, IndexingService


class _Index:
    def __init__(self) -> None:
        self.refreshes = 0

    def ensure(self) -> None:
        pass

    def refresh(self) -> None:
        self.refreshes += 1


class _Batches(IndexingService):
    """Drains a scripted list of batch sizes (0: nothing pending)."""

    def __init__(self, index: _Index, batches: list[int]):
        super().__init__(outbox=None, index=index, embedder=None)  # type: ignore[arg-type]
        self.batches = batches

    def drain_once(self, limit: int | None = None) -> DrainReport:
        return DrainReport(events=self.batches.pop(0) if self.batches else 0)


def test_a_drain_that_catches_up_refreshes_once_and_an_idle_one_does_not():
    index = _Index()
    service = _Batches(index, [5, 3, 0])
    assert service.drain().events == 8 and index.refreshes == 1
    service.drain()
    assert index.refreshes == 1


def test_a_drain_cut_short_by_its_time_limit_leaves_the_refresh_to_the_next_one_that_catches_up():
    index = _Index()
    service = _Batches(index, [5, 0])
    assert service.drain(max_seconds=0).events == 5 and index.refreshes == 0
    assert service.drain().events == 0 and index.refreshes == 1
