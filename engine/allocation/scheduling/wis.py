"""Weighted interval scheduling by dynamic programming, O(n log n)."""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence


def weighted_interval_scheduling(intervals: Sequence[tuple[int, int, float]]) -> tuple[float, list[int]]:
    """Best total value of pairwise disjoint half-open intervals [start, end): (value, chosen indices).

    Sort by end; p(j) = number of intervals ending at or before start(j) (binary search);
    best[j] = max(best[j-1], value(j) + best[p(j)]). Touching intervals (end == next start) are compatible.
    """
    order = sorted(range(len(intervals)), key=lambda i: (intervals[i][1], intervals[i][0], i))
    ends = [intervals[i][1] for i in order]
    best = [0.0] * (len(order) + 1)
    prev = [0] * len(order)
    for j, i in enumerate(order):
        start, _, value = intervals[i]
        prev[j] = bisect_right(ends, start, 0, j)
        take = value + best[prev[j]]
        best[j + 1] = take if take > best[j] else best[j]
    chosen = []
    j = len(order)
    while j > 0:
        i = order[j - 1]
        if intervals[i][2] + best[prev[j - 1]] > best[j - 1]:
            chosen.append(i)
            j = prev[j - 1]
        else:
            j -= 1
    chosen.reverse()
    return best[-1], chosen
