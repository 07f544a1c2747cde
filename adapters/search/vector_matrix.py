"""Unit vectors held in one float32 matrix, addressed by row id, scanned exactly for the nearest."""
from __future__ import annotations

import numpy as np

FULL_SCAN_SHARE = 0.25  # beyond this share of the rows, scoring all rows beats gathering the candidates


class VectorMatrix:
    """A dense matrix of unit vectors with a row id per slot; removals move the last slot into the hole."""

    def __init__(self, dimensions: int, capacity: int = 1024):
        self.dimensions = dimensions
        self._rows = np.zeros((capacity, dimensions), dtype=np.float32)
        self._ids = np.zeros(capacity, dtype=np.int64)
        self._slot_of = np.full(capacity, -1, dtype=np.int64)  # indexed by row id (SQLite row ids are dense)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @classmethod
    def of(cls, dimensions: int, ids: np.ndarray, rows: np.ndarray) -> VectorMatrix:
        """A matrix holding `rows` (unit float32) under `ids`."""
        matrix = cls(dimensions, capacity=max(1024, int(len(ids) * 1.25)))
        matrix.extend(ids, rows)
        return matrix

    def extend(self, ids: np.ndarray, rows: np.ndarray) -> None:
        """Hold `rows` (unit float32) under `ids`, none of which is held yet."""
        count = len(ids)
        if not count:
            return
        while self._count + count > len(self._rows):
            self._grow_rows()
        self._grow_ids(int(ids.max()))
        slots = np.arange(self._count, self._count + count)
        self._rows[slots] = rows
        self._ids[slots] = ids
        self._slot_of[ids] = slots
        self._count += count

    def _grow_ids(self, largest_id: int) -> None:
        if largest_id >= len(self._slot_of):
            grown = np.full(max(largest_id + 1, 2 * len(self._slot_of)), -1, dtype=np.int64)
            grown[:len(self._slot_of)] = self._slot_of
            self._slot_of = grown

    def _grow_rows(self) -> None:
        capacity = 2 * len(self._rows)
        rows = np.zeros((capacity, self.dimensions), dtype=np.float32)
        rows[:self._count] = self._rows[:self._count]
        ids = np.zeros(capacity, dtype=np.int64)
        ids[:self._count] = self._ids[:self._count]
        self._rows, self._ids = rows, ids

    def put(self, row_id: int, vector: np.ndarray) -> None:
        """Hold `vector` (unit float32) under `row_id`, replacing what it held."""
        self._grow_ids(row_id)
        slot = int(self._slot_of[row_id])
        if slot < 0:
            if self._count == len(self._rows):
                self._grow_rows()
            slot = self._count
            self._count += 1
            self._ids[slot] = row_id
            self._slot_of[row_id] = slot
        self._rows[slot] = vector

    def remove(self, row_id: int) -> None:
        """Forget `row_id` (nothing happens when it is not held)."""
        if row_id >= len(self._slot_of) or self._slot_of[row_id] < 0:
            return
        slot = int(self._slot_of[row_id])
        last = self._count - 1
        if slot != last:
            moved = int(self._ids[last])
            self._rows[slot] = self._rows[last]
            self._ids[slot] = moved
            self._slot_of[moved] = slot
        self._slot_of[row_id] = -1
        self._count = last

    def nearest(self, query: np.ndarray, k: int, among: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The `k` row ids with the highest cosine to `query` (unit), best first; only `among` when given."""
        if k <= 0 or self._count == 0:
            return []
        query = np.asarray(query, dtype=np.float32)
        if among is None:
            ids, scores = self._ids[:self._count], self._rows[:self._count] @ query
        else:
            among = among[(among >= 0) & (among < len(self._slot_of))]
            slots = self._slot_of[among]
            slots = slots[slots >= 0]
            if len(slots) > FULL_SCAN_SHARE * self._count:
                scores = (self._rows[:self._count] @ query)[slots]
            else:
                scores = self._rows[slots] @ query
            ids = self._ids[slots]
        if len(scores) > k:
            top = np.argpartition(-scores, k - 1)[:k]
        else:
            top = np.arange(len(scores))
        ordered = top[np.lexsort((ids[top], -scores[top]))]
        return [(int(ids[i]), float(scores[i])) for i in ordered]
