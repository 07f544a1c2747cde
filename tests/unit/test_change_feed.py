"""The identity change feed: numbers skipped while their transaction was open are read when they commit."""
from __future__ import annotations

from engine.identity.change_feed import GAP_HORIZON_S, ChangeFeed


class _Log:
    def __init__(self) -> None:
        self.rows: dict[int, tuple[int, str, str, int]] = {}

    def add(self, seq: int) -> None:
        self.rows[seq] = (seq, "Patient", f"p{seq}", 1)

    def changes(self, after_seq: int, limit: int):
        return [self.rows[s] for s in sorted(self.rows) if s > after_seq][:limit]

    def changes_at(self, seqs):
        return [self.rows[s] for s in sorted(seqs) if s in self.rows]


def test_late_commits_are_read_once_and_abandoned_numbers_are_forgotten():
    log, now = _Log(), [0.0]
    feed = ChangeFeed(log, clock=lambda: now[0])  # type: ignore[arg-type]
    for seq in (1, 2, 5, 6):
        log.add(seq)
    assert [c[0] for c in feed.read(2)] == [1, 2, 5, 6]
    assert sorted(feed.gaps) == [3, 4]
    log.add(4)  # committed late; 3 was rolled back and never appears
    log.add(7)
    assert [c[0] for c in feed.read(2)] == [7, 4]
    assert [c[0] for c in feed.read(2)] == []
    assert sorted(feed.gaps) == [3]
    now[0] = GAP_HORIZON_S + 1
    feed.read(2)
    assert feed.gaps == {}
