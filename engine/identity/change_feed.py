"""The store's change log read in order, without skipping a transaction that commits after a later one.

Change numbers are taken when a row is written, not when its transaction commits, so a reader that
moved past number 5 may later see 4 appear. Numbers skipped over are remembered and asked for again
on each read until they appear or are older than GAP_HORIZON_S (a rolled-back transaction leaves a
number that never appears).
"""
from __future__ import annotations

import time
from collections.abc import Callable

from engine.identity.ports import IdentityRepository

Change = tuple[int, str, str, int]  # (seq, resource type, id, version)
GAP_HORIZON_S = 300.0
MAX_GAPS = 10_000


class ChangeFeed:
    """A cursor over the change log plus the numbers it skipped that may still commit."""

    def __init__(self, repo: IdentityRepository, clock: Callable[[], float] = time.monotonic):
        self.repo = repo
        self.clock = clock
        self.cursor = 0
        self.gaps: dict[int, float] = {}  # skipped number -> when it was first missed

    def mark(self) -> tuple[int, dict[int, float]]:
        """Where the feed stands, to go back to when what was read could not be processed."""
        return self.cursor, dict(self.gaps)

    def rewind(self, mark: tuple[int, dict[int, float]]) -> None:
        """Read again, next time, what was read since `mark`."""
        self.cursor, self.gaps = mark[0], dict(mark[1])

    def reset(self, cursor: int) -> None:
        """Continue after `cursor`, forgetting skipped numbers."""
        self.cursor = cursor
        self.gaps.clear()

    def read(self, page: int, types: tuple[str, ...] | None = None) -> list[Change]:
        """Every change (of `types`, when given) committed since the last read, the late ones included."""
        changes: list[Change] = []
        while batch := self.repo.changes(self.cursor, page):
            self._note_gaps(batch)
            self.cursor = batch[-1][0]
            changes.extend(c for c in batch if types is None or c[1] in types)
            if len(batch) < page:
                break
        if self.gaps:
            late = self.repo.changes_at(sorted(self.gaps))
            for change in late:
                self.gaps.pop(change[0], None)
            changes.extend(c for c in late if types is None or c[1] in types)
            now = self.clock()
            for seq in [seq for seq, missed in self.gaps.items() if now - missed > GAP_HORIZON_S]:
                del self.gaps[seq]
        return changes

    def _note_gaps(self, batch: list[Change]) -> None:
        now, expected = self.clock(), self.cursor + 1
        for change in batch:
            for seq in range(expected, min(change[0], expected + MAX_GAPS - len(self.gaps))):
                self.gaps.setdefault(seq, now)
            expected = change[0] + 1
